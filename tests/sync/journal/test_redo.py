"""An undo's reverted rows are recognised in the next plan (issue 17): for every kind of change a sync
plans, the keys read back from its journal row (``redo.redone_by``) include the key of the same change
planned again (``undone.key_of``); a kind no sync plans gives none."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from app.models import Band, ChangeRow
from app.sync.core.changes import (
    NEW,
    AddToBand,
    ArchivePupil,
    Change,
    ChangeYear,
    CreatePupil,
    LinkBand,
    LinkPupil,
    RemoveFromBand,
    RenameBand,
    RenamePupil,
    RestorePupil,
    UnlinkBand,
)
from app.sync.core.undone import Memo, Standing, key_of
from app.sync.journal.entries import Facts, journal, unlinked_band
from app.sync.journal.redo import memo_of, redone_by
from app.sync.reconcile.held_rows import serialise

NOW = datetime(2027, 1, 4, 2, 30, tzinfo=UTC)
PUPIL, STUDENT, BAND, CLASS, NEW_PUPIL = (uuid.uuid4() for _ in range(5))
FACTS = Facts(
    NOW,
    {"new:S9": NEW_PUPIL},
    {NEW_PUPIL: "amy.jones"},
    {PUPIL: STUDENT},
    {BAND: Band(id=BAND, mis_class_id=CLASS, mis_group_id=None)},
)


def _row(change: Change, status: str = "undone") -> ChangeRow:
    [entry] = journal([change], FACTS)
    return ChangeRow(
        id=7,
        action=entry.action.value,
        status=status,
        pupil_id=entry.pupil_id,
        band_id=entry.band_id,
        before=entry.before,
        after=entry.after,
    )


# A change a sync plans -> the change a later sync plans to make it again once an undo reverted it.
REPLANNED: list[tuple[Change, Change]] = [
    (LinkPupil(str(PUPIL), "S1"), LinkPupil(str(PUPIL), "S1")),
    # The account made comes back (restored and linked), never a second one.
    (CreatePupil("new:S9", "S9", "Amy", "Jones", 4), LinkPupil(str(NEW_PUPIL), "S9")),
    (CreatePupil("new:S9", "S9", "Amy", "Jones", 4), RestorePupil(str(NEW_PUPIL), "S9")),
    (CreatePupil("new:S9", "S9", "Amy", "Jones", 4), CreatePupil(NEW + "S9", "S9", "Amy", "Jones", 4)),
    (AddToBand(str(BAND), str(PUPIL)), AddToBand(str(BAND), str(PUPIL))),
    (RemoveFromBand(str(BAND), str(PUPIL)), RemoveFromBand(str(BAND), str(PUPIL))),
    (
        RenamePupil(str(PUPIL), ("Amy", "Jones"), ("Amelia", "Jones")),
        RenamePupil(str(PUPIL), ("Amy", "Jones"), ("Amelia", "Jones")),
    ),
    (ChangeYear(str(PUPIL), 4, 5), ChangeYear(str(PUPIL), 4, 5)),
    (RenameBand(str(BAND), "4B", "5B"), RenameBand(str(BAND), "4B", "5B")),
    (ArchivePupil(str(PUPIL), "S1", "no longer in the MIS"), ArchivePupil(str(PUPIL), "S1", "left (off roll)")),
    (RestorePupil(str(PUPIL), "S1"), RestorePupil(str(PUPIL), "S1", after_grace=True)),
    (UnlinkBand(str(BAND), "C4", "C5"), UnlinkBand(str(BAND), "C4", None)),
]


@pytest.mark.parametrize(("made", "again"), REPLANNED, ids=[type(c).__name__ for c, _ in REPLANNED])
def test_a_reverted_change_is_known_when_planned_again(made: Change, again: Change) -> None:
    assert key_of(again) in redone_by(_row(made))


def test_the_same_change_with_another_outcome_is_not_the_one_reverted() -> None:
    renamed = _row(RenamePupil(str(PUPIL), ("Amy", "Jones"), ("Amelia", "Jones")))
    assert key_of(RenamePupil(str(PUPIL), ("Amy", "Jones"), ("Millie", "Jones"))) not in redone_by(renamed)
    assert key_of(AddToBand(str(uuid.uuid4()), str(PUPIL))) not in redone_by(_row(AddToBand(str(BAND), str(PUPIL))))


def test_what_no_sync_plans_gives_nothing_to_hold() -> None:
    """A merge's bands, a disconnect's unlinks: a sync never makes them again."""
    assert redone_by(_row(LinkBand(str(BAND), "C4"))) == frozenset()
    created = ChangeRow(action="create_band", status="undone", after={"name": "9X", "container": "C9"})
    assert redone_by(created) == frozenset()
    entry = unlinked_band(Band(id=BAND, mis_class_id=CLASS, mis_group_id=None))
    row = ChangeRow(action=entry.action.value, status="undone", band_id=BAND, before=entry.before, after=entry.after)
    assert redone_by(row) == frozenset()


def test_each_row_carrying_a_word_is_its_memo() -> None:
    """Undone rows give what would redo them; rows held after an undo, their change, waiting or rejected."""
    rename = RenamePupil(str(PUPIL), ("Amy", "Jones"), ("Amelia", "Jones"))
    assert memo_of(_row(rename)) == Memo(7, frozenset({key_of(rename)}), Standing.REVERTED)
    held = {"change": serialise(rename), "reason": "undone", "after_undo": True}
    for status, standing in (("held", Standing.WAITING), ("rejected", Standing.REJECTED)):
        row = ChangeRow(id=8, action="held", status=status, after=held)
        assert memo_of(row) == Memo(8, frozenset({key_of(rename)}), standing)
