"""What a later sync would plan to make a reverted change again, read from its journal row: the keys by
which the syncs after an undo recognise what it reverted (``app.sync.core.undone``); and each row that
carries an admin's word, as the planner's safeguards take it (``memo_of``).

A row of an action no sync plans (a band created or linked by a merge, a disconnect's unlinks, the end of
an MIS migration) gives none: nothing a sync does could redo it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.models import ChangeRow, ChangeStatus
from app.sync.core import changes as kinds
from app.sync.core.undone import Key, Memo, Standing, key_of
from app.sync.journal.entries import Action


def _values(row: ChangeRow) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    return str(row.pupil_id), str(row.band_id), row.before or {}, row.after or {}


def _created(row: ChangeRow) -> list[kinds.Change]:
    # The account an undo archived and unlinked comes back linked and restored (``plan_remembered``), or,
    # were it gone, a new account would be made for the child.
    pupil, _, _, after = _values(row)
    student = after.get("student") or ""
    return [
        kinds.CreatePupil(kinds.NEW + student, student, "", "", None),
        kinds.LinkPupil(pupil, student),
        kinds.RestorePupil(pupil, student),
    ]


def _linked(row: ChangeRow) -> list[kinds.Change]:
    pupil, _, _, after = _values(row)
    return [kinds.LinkPupil(pupil, after.get("student") or "")]


def _added(row: ChangeRow) -> list[kinds.Change]:
    pupil, band, _, _ = _values(row)
    return [kinds.AddToBand(band, pupil)]


def _removed(row: ChangeRow) -> list[kinds.Change]:
    pupil, band, _, _ = _values(row)
    return [kinds.RemoveFromBand(band, pupil)]


def _renamed(row: ChangeRow) -> list[kinds.Change]:
    pupil, _, before, after = _values(row)
    names = ("first_name", "last_name")
    return [kinds.RenamePupil(pupil, tuple(before.get(n) for n in names), tuple(after.get(n) for n in names))]  # type: ignore[arg-type]


def _year(row: ChangeRow) -> list[kinds.Change]:
    pupil, _, before, after = _values(row)
    return [kinds.ChangeYear(pupil, before.get("year_group"), after.get("year_group"))]


def _archived(row: ChangeRow) -> list[kinds.Change]:
    pupil, _, _, after = _values(row)
    return [kinds.ArchivePupil(pupil, "", after.get("reason") or "")]


def _restored(row: ChangeRow) -> list[kinds.Change]:
    pupil, _, _, _ = _values(row)
    return [kinds.RestorePupil(pupil, "")]


def _band_renamed(row: ChangeRow) -> list[kinds.Change]:
    _, band, before, after = _values(row)
    return [kinds.RenameBand(band, before.get("name") or "", after.get("name") or "")]


def _unlinked_band(row: ChangeRow) -> list[kinds.Change]:
    _, band, before, _ = _values(row)
    # A disconnect's unlink keeps the link's columns, not the class: no sync plans that one.
    return [kinds.UnlinkBand(band, before["container"])] if before.get("container") else []


REDONE_BY: dict[Action, Callable[[ChangeRow], list[kinds.Change]]] = {
    Action.CREATE_PUPIL: _created,
    Action.LINK_PUPIL: _linked,
    Action.ADD_TO_BAND: _added,
    Action.REMOVE_FROM_BAND: _removed,
    Action.RENAME_PUPIL: _renamed,
    Action.CHANGE_YEAR: _year,
    Action.ARCHIVE_PUPIL: _archived,
    Action.RESTORE_PUPIL: _restored,
    Action.RENAME_BAND: _band_renamed,
    Action.UNLINK_BAND: _unlinked_band,
}

_BY_ACTION = {action.value: redo for action, redo in REDONE_BY.items()}


def redone_by(row: ChangeRow) -> frozenset[Key]:
    """The keys of the changes a sync would plan to make this (reverted) row's change again."""
    redo = _BY_ACTION.get(row.action)
    return frozenset(key_of(change) for change in redo(row)) if redo else frozenset()


def memo_of(row: ChangeRow) -> Memo:
    """A row ``ChangeRepository.carrying_a_word`` found, as the safeguards take it: a change an undo
    reverted (what would redo it), or a change held after an undo, waiting or rejected."""
    if row.status == ChangeStatus.UNDONE:
        return Memo(row.id, redone_by(row), Standing.REVERTED)
    standing = Standing.WAITING if row.status == ChangeStatus.HELD else Standing.REJECTED
    return Memo(row.id, frozenset({key_of(kinds.from_json((row.after or {})["change"]))}), standing)
