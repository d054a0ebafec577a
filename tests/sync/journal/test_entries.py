"""The change vocabulary as a table: every kind journalled, counted, named and undone, and the exact
entry each kind writes (stored rows are data: their actions and shapes must not drift)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from app.audit import AuditAction
from app.models import Band, ChangeStatus, Entity
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
from app.sync.journal.entries import (
    AUDIT_ACTIONS,
    FINAL,
    JOURNAL_ACTIONS,
    KINDS,
    LABELS,
    REVERTS,
    TAKEN_FROM_STUDENT,
    Action,
    Facts,
    counts,
    journal,
    nonzero_counts,
    sentence,
)
from app.sync.reconcile.held_rows import deserialise

NOW = datetime(2026, 11, 28, 2, 30, tzinfo=UTC)
BAND, PUPIL, OTHER_BAND = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
NEW_BAND, NEW_PUPIL, CLASS = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
STUDENT = uuid.uuid4()


def test_every_change_type_has_exactly_one_kind() -> None:
    assert [kind.change for kind in KINDS] == list(CHANGE_TYPES.values())
    assert len({kind.action for kind in KINDS}) == len(KINDS)
    assert len({kind.label for kind in KINDS}) == len(KINDS)


def test_every_revertible_action_has_its_undo_action_and_nothing_else_does() -> None:
    undos = {action for action in Action if action.startswith("undo_")}
    assert {Action(action).undone for action in REVERTS} == undos
    assert set(REVERTS) | undos | {Action.HELD} | FINAL == set(Action)
    assert not set(REVERTS) & FINAL


def test_the_journal_holds_the_audit_actions_and_never_undoes_them() -> None:
    """Defined once, in ``app/audit.py``; apart from the runs' actions, and none of them revertible."""
    assert set(AuditAction) == AUDIT_ACTIONS
    assert not AUDIT_ACTIONS & set(Action)
    assert set(Action) | AUDIT_ACTIONS == JOURNAL_ACTIONS
    assert not AUDIT_ACTIONS & set(REVERTS)
    assert not AUDIT_ACTIONS & set(TAKEN_FROM_STUDENT)


def test_the_stored_vocabulary_is_unchanged() -> None:
    assert {a.value for a in Action if not a.startswith("undo_")} == {
        "link_band", "create_band", "rename_band", "unlink_band", "link_pupil", "create_pupil", "rename_pupil",
        "change_year", "archive_pupil", "restore_pupil", "unlink_pupil", "add_to_band", "remove_from_band",
        "end_migration", "held", "anonymise_pupil",
    }  # fmt: skip
    assert set(TAKEN_FROM_STUDENT) == {"unlink_pupil", "undo_create_pupil", "undo_link_pupil"}
    assert {kind.__name__: label for kind, label in LABELS.items()} == {
        "LinkBand": "bands_linked", "CreateBand": "bands_created", "LinkPupil": "pupils_linked",
        "CreatePupil": "pupils_created", "AddToBand": "memberships_added", "RemoveFromBand": "memberships_removed",
        "RenamePupil": "pupils_renamed", "ChangeYear": "year_changes", "RenameBand": "bands_renamed",
        "ArchivePupil": "leavers", "RestorePupil": "returners", "UnlinkBand": "classes_vanished",
    }  # fmt: skip
    assert {s.value for s in ChangeStatus} == {"applied", "held", "rejected", "undone"}
    assert {e.value for e in Entity} == {"school", "band", "pupil", "band_membership"}


def _facts() -> Facts:
    return Facts(
        NOW,
        {"new:C9": NEW_BAND, "new:S9": NEW_PUPIL},
        {NEW_PUPIL: "amy.jones"},
        {PUPIL: STUDENT},
        {BAND: Band(id=BAND, mis_class_id=CLASS, mis_group_id=None)},
    )


Row = tuple[str, str, str, dict[str, Any] | None, dict[str, Any] | None, uuid.UUID | None, uuid.UUID | None]
CASES: list[tuple[Change, Row]] = [
    (
        LinkBand(str(BAND), "C4"),
        ("band", str(BAND), "link_band", {"mis_class_id": str(CLASS), "mis_group_id": None}, {"container": "C4"},
         None, BAND),
    ),
    (
        CreateBand("new:C9", "C9", "9X", 9),
        ("band", str(NEW_BAND), "create_band", None, {"name": "9X", "container": "C9"}, None, NEW_BAND),
    ),
    (
        LinkPupil(str(PUPIL), "S1"),
        ("pupil", str(PUPIL), "link_pupil", {"mis_student_id": str(STUDENT)}, {"student": "S1"}, PUPIL, None),
    ),
    (
        CreatePupil("new:S9", "S9", "Amy", "Jones", 4),
        ("pupil", str(NEW_PUPIL), "create_pupil", None, {"student": "S9", "username": "amy.jones"}, NEW_PUPIL, None),
    ),
    (
        AddToBand(str(OTHER_BAND), "new:S9"),
        ("band_membership", f"{OTHER_BAND}:{NEW_PUPIL}", "add_to_band", None,
         {"band_id": str(OTHER_BAND), "pupil_id": str(NEW_PUPIL)}, NEW_PUPIL, OTHER_BAND),
    ),
    (
        RemoveFromBand(str(BAND), str(PUPIL)),
        ("band_membership", f"{BAND}:{PUPIL}", "remove_from_band", {"band_id": str(BAND), "pupil_id": str(PUPIL)},
         None, PUPIL, BAND),
    ),
    (
        RenamePupil(str(PUPIL), ("Amy", "Jones"), ("Amelia", "Jones")),
        ("pupil", str(PUPIL), "rename_pupil", {"first_name": "Amy", "last_name": "Jones"},
         {"first_name": "Amelia", "last_name": "Jones"}, PUPIL, None),
    ),
    (
        ChangeYear(str(PUPIL), 4, 5),
        ("pupil", str(PUPIL), "change_year", {"year_group": 4}, {"year_group": 5}, PUPIL, None),
    ),
    (
        RenameBand(str(BAND), "4B", "5B"),
        ("band", str(BAND), "rename_band", {"name": "4B"}, {"name": "5B"}, None, BAND),
    ),
    (
        ArchivePupil(str(PUPIL), "S1", "left the school"),
        ("pupil", str(PUPIL), "archive_pupil", {"archived_at": None},
         {"archived_at": NOW.isoformat(), "reason": "left the school"}, PUPIL, None),
    ),
    (
        RestorePupil(str(PUPIL), "S1"),
        ("pupil", str(PUPIL), "restore_pupil", {"archived_at": NOW.isoformat()}, {"archived_at": None}, PUPIL, None),
    ),
    (
        UnlinkBand(str(BAND), "C4", "C5"),
        ("band", str(BAND), "unlink_band", {"container": "C4"}, {"container": None}, None, BAND),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("change", "row"), CASES, ids=[type(c).__name__ for c, _ in CASES])
def test_each_kind_writes_the_entry_it_always_wrote(change: Change, row: Row) -> None:
    [entry] = journal([change], _facts())
    written = (entry.entity_type, entry.entity_id, entry.action, entry.before, entry.after, entry.pupil_id)
    assert (*written, entry.band_id) == row
    assert entry.status == "applied"


def test_the_cases_cover_every_kind() -> None:
    assert {type(change) for change, _ in CASES} == set(CHANGE_TYPES.values())


@pytest.mark.parametrize("change", [c for c, _ in CASES], ids=[type(c).__name__ for c, _ in CASES])
def test_a_held_change_comes_back_from_its_json(change: Change) -> None:
    stored = json.loads(json.dumps({"type": type(change).__name__, **dataclasses.asdict(change)}))
    assert deserialise(stored) == change


@pytest.mark.parametrize(
    ("counted", "said"),
    [
        ({}, "nothing to change"),
        ({"pupils_created": 0}, "nothing to change"),
        ({"pupils_created": 1}, "1 joiner"),
        ({"pupils_created": 2, "memberships_removed": 1}, "2 joiners, 1 class move out"),
        ({"leavers": 3, "classes_vanished": 1}, "3 leavers, 1 class vanished"),
        ({"bands_linked": 2}, "2 bands_linkeds"),  # no word: the label itself, as it always read
    ],
)
def test_the_preview_sentence(counted: dict[str, int], said: str) -> None:
    assert sentence(counted) == said


def test_counts_by_label_in_table_order() -> None:
    changes: list[Change] = [ChangeYear("p", 4, 5), LinkBand("b", "C"), ChangeYear("q", 3, 4)]
    assert counts(changes, (LinkBand, CreateBand)) == {"bands_linked": 1, "bands_created": 0}
    assert list(counts(changes)) == list(LABELS.values())
    assert nonzero_counts(changes) == {"bands_linked": 1, "year_changes": 2}
