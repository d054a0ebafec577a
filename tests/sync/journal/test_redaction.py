"""What the journal keeps of each kind of entry once its values are redacted: the same keys, the ids, the
kinds and reasons; no name, username or year group. Every kind the planner journals is in the table
(``test_the_table_covers_every_kind``), so a new kind is looked at here too."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from app.models import Band
from app.sync.core.changes import (
    CHANGE_TYPES,
    AddToBand,
    ArchivePupil,
    Change,
    ChangeYear,
    CreateBand,
    CreatePupil,
    LinkBand,
    LinkPupil,
    RemoveFromBand,
    RenameBand,
    RenamePupil,
    RestorePupil,
    UnlinkBand,
)
from app.sync.journal.entries import Facts, journal
from app.sync.journal.redaction import redacted

NOW = datetime(2027, 1, 4, 2, 30, tzinfo=UTC)
PUPIL, STUDENT, BAND, CLASS = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
NEW_PUPIL, NEW_BAND = uuid.uuid4(), uuid.uuid4()
FACTS = Facts(
    NOW,
    {"new:C9": NEW_BAND, "new:S9": NEW_PUPIL},
    {NEW_PUPIL: "amy.jones"},
    {PUPIL: STUDENT},
    {BAND: Band(id=BAND, mis_class_id=CLASS, mis_group_id=None)},
)
Values = dict[str, Any] | None
# change -> (before, after) once redacted.
CASES: list[tuple[Change, tuple[Values, Values]]] = [
    (LinkBand(str(BAND), "C4"), ({"mis_class_id": str(CLASS), "mis_group_id": None}, {"container": "C4"})),
    (CreateBand("new:C9", "C9", "9X", 9), (None, {"name": None, "container": "C9"})),
    (LinkPupil(str(PUPIL), "S1"), ({"mis_student_id": str(STUDENT)}, {"student": "S1"})),
    (CreatePupil("new:S9", "S9", "Amy", "Jones", 4), (None, {"student": "S9", "username": None})),
    (AddToBand(str(BAND), str(PUPIL)), (None, {"band_id": str(BAND), "pupil_id": str(PUPIL)})),
    (RemoveFromBand(str(BAND), str(PUPIL)), ({"band_id": str(BAND), "pupil_id": str(PUPIL)}, None)),
    (
        RenamePupil(str(PUPIL), ("Amy", "Jones"), ("Amelia", "Jones")),
        ({"first_name": None, "last_name": None}, {"first_name": None, "last_name": None}),
    ),
    (ChangeYear(str(PUPIL), 4, 5), ({"year_group": None}, {"year_group": None})),
    (RenameBand(str(BAND), "4B", "5B"), ({"name": None}, {"name": None})),
    (
        ArchivePupil(str(PUPIL), "S1", "left the school (off roll)"),
        ({"archived_at": None}, {"archived_at": NOW.isoformat(), "reason": "left the school (off roll)"}),
    ),
    (RestorePupil(str(PUPIL), "S1"), ({"archived_at": NOW.isoformat()}, {"archived_at": None})),
    (UnlinkBand(str(BAND), "C4", "C5"), ({"container": "C4"}, {"container": None})),
]


@pytest.mark.parametrize(("change", "expected"), CASES, ids=[type(c).__name__ for c, _ in CASES])
def test_each_kind_keeps_its_keys_and_ids_and_loses_the_childs_data(
    change: Change, expected: tuple[Values, Values]
) -> None:
    [entry] = journal([change], FACTS)
    assert (redacted(entry.before), redacted(entry.after)) == expected


def test_the_table_covers_every_kind() -> None:
    assert {type(change).__name__ for change, _ in CASES} == set(CHANGE_TYPES)


@pytest.mark.parametrize(("change", "_"), CASES, ids=[type(c).__name__ for c, _ in CASES])
def test_a_held_change_keeps_its_kind_ids_and_reason(change: Change, _: Any) -> None:
    serialised: dict[str, Any] = {"type": type(change).__name__, **dataclasses.asdict(change)}
    kept = redacted({"change": serialised, "reason": "held until approved"})
    assert kept is not None
    assert kept["reason"] == "held until approved"
    change_kept: dict[str, Any] = kept["change"]
    assert change_kept.keys() == serialised.keys()
    assert change_kept["type"] == type(change).__name__
    for field in ("first_name", "last_name", "year_group", "name", "before", "after"):
        if field in change_kept:
            assert change_kept[field] is None, field
    for field in ("pupil", "band", "student", "container", "ref"):
        if field in serialised:
            assert change_kept[field] == serialised[field], field


def test_an_unknown_key_is_redacted_and_nothing_is_left_of_a_list() -> None:
    """A kind of entry written after this list was made holds nothing back by default."""
    assert redacted({"nickname": "Alfie", "pupil_id": "p1", "names": ["Alfie", "Alfred"], "nested": {"x": 1}}) == {
        "nickname": None,
        "pupil_id": "p1",
        "names": None,
        "nested": {"x": None},
    }
    assert redacted(None) is None
