"""What an undo leaves behind for the syncs that follow it (pure: no database).

An undo reverts what a run did, but the MIS still says what made the run do it, so the next sync would
plan the same changes again and silently redo them. Instead:

- the changes an undo reverted are **held** when the next sync plans them again, for the admin to decide;
- while such a held change waits, later syncs keep holding it (and hold it once);
- approving it makes it again; **rejecting it keeps the undo's state**, and syncs leave the change out
  for as long as they would plan it exactly so: the rejection lapses at the first sync that does not
  plan it (the MIS changed again), and from then on the MIS is followed as usual.

A change is recognised by its ``key``: what it does, whichever run planned it (a rename by its pupil and
the names it gives, a class move by its band and pupil, an account made again by its child). The shell
loads the rows that carry these words (``Memo``) and marks those that lapse.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.sync.core.changes import LIFECYCLE, Change, subject_of

Key = tuple[Any, ...]

UNDONE_REASON = "undone by an admin: approve to make the change again, reject to keep it undone"


def key_of(change: Change) -> Key:
    """What a change does, the same for the change an undo reverted and for a later plan to make it again."""
    values = (getattr(change, name) for name in change.KEY)
    return (type(change).__name__, *(tuple(v) if isinstance(v, list) else v for v in values))


class Standing(StrEnum):
    """Where an admin's word on a change stands."""

    REVERTED = "reverted"  # an undo reverted it, and no sync has looked at it since
    WAITING = "waiting"  # held after an undo, not yet decided
    REJECTED = "rejected"  # held after an undo, and the admin said no


@dataclass(frozen=True)
class Memo:
    """One journal row that carries an admin's word: its id, and the changes (by key) it is about."""

    row: int
    keys: frozenset[Key]
    standing: Standing


@dataclass(frozen=True)
class Undone:
    """What the next plan must not simply apply: changes to hold, and changes to leave out."""

    hold: frozenset[Key] = frozenset()
    keep_undone: frozenset[Key] = frozenset()

    @classmethod
    def of(cls, memos: Iterable[Memo]) -> Undone:
        memos = list(memos)
        rejected = frozenset(k for m in memos if m.standing == Standing.REJECTED for k in m.keys)
        hold = frozenset(k for m in memos if m.standing != Standing.REJECTED for k in m.keys) - rejected
        return cls(hold, rejected)


def leave_out(changes: Sequence[Change], undone: Undone) -> tuple[list[Change], list[Change]]:
    """(kept, left out): the changes an admin rejected after an undo are left out; when one of them makes,
    links, restores or archives an account, the rest of that pupil's changes depend on it and are left
    out too (no archived account is put in a band, no second account made for a child)."""
    if not undone.keep_undone:
        return list(changes), []
    refused = [c for c in changes if key_of(c) in undone.keep_undone]
    whole = {subject_of(c) for c in refused if isinstance(c, LIFECYCLE)}
    kept: list[Change] = []
    out: list[Change] = []
    for change in changes:
        gone = key_of(change) in undone.keep_undone or subject_of(change) in whole
        (out if gone else kept).append(change)
    return kept, out


def lapsed(memos: Iterable[Memo], planned: Iterable[Change]) -> list[int]:
    """The rows whose word no longer applies after a sync planned ``planned``: every change an undo
    reverted (this sync held it, or found the MIS no longer asks for it), and every rejection of a
    change this sync did not plan (the MIS changed again)."""
    keys = {key_of(change) for change in planned}
    return [
        memo.row
        for memo in memos
        if memo.standing == Standing.REVERTED or (memo.standing == Standing.REJECTED and not memo.keys & keys)
    ]
