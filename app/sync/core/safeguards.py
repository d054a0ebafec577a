"""Safeguards: which planned changes apply at once and which wait for an admin.

Joiners, renames, year changes and class moves apply. Removals — leavers and pupils leaving synced
bands — apply too unless there are many of them in one run (more than ``min_pupils`` pupils *and* more
than ``fraction`` of the linked pupils): a mass removal is far more often a broken MIS export than a
real exodus, so it is held whole. A synced class that vanished is always held: after a year rollover
the admin should choose the class the band follows next.

Holding is per pupil: when one of a pupil's changes waits, all of that pupil's changes in the plan wait
with it (``subject_of``), and the admin decides them as one, so no decision leaves a pupil half changed
(archived, yet still in a band; out of one band and not yet in the next). What an undo reverted waits
too, and what the admin rejected after an undo is left out (``undone.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.sync.core.changes import (
    ArchivePupil,
    Change,
    CreatePupil,
    RemoveFromBand,
    RestorePupil,
    UnlinkBand,
    subject_of,
)
from app.sync.core.undone import UNDONE_REASON, Undone, key_of, leave_out


@dataclass(frozen=True)
class Thresholds:
    min_pupils: int = 5
    fraction: float = 0.10


@dataclass(frozen=True)
class Held:
    change: Change
    reason: str
    # Held with a change an undo reverted: rejecting it keeps the undo's state while the MIS says the same.
    after_undo: bool = False


@dataclass(frozen=True)
class Decision:
    apply: list[Change]
    held: list[Held]
    left_out: list[Change] = field(default_factory=list)  # rejected by an admin after an undo


def safeguard(
    changes: Sequence[Change],
    linked_pupils: int,
    thresholds: Thresholds,
    *,
    hold_all: str | None = None,
    undone: Undone | None = None,
) -> Decision:
    """Split a plan into what applies now, what waits (whole pupils) and what an admin already refused.
    ``hold_all`` (a reason) holds everything: during an MIS migration every id changes, and only
    re-linking may follow. ``undone``: what undos reverted (held) and what admins rejected after one
    (left out)."""
    undone = undone or Undone()
    kept, left_out = leave_out(changes, undone)
    why = _reasons(kept, linked_pupils, thresholds, hold_all, undone)
    waiting: dict[str, str] = {}  # subject -> the reason its first held change gives
    for index, change in enumerate(kept):
        if index in why:
            waiting.setdefault(subject_of(change), why[index])
    after_undo = {subject_of(c) for i, c in enumerate(kept) if why.get(i) == UNDONE_REASON}
    apply: list[Change] = []
    held: list[Held] = []
    for index, change in enumerate(kept):
        subject = subject_of(change)
        if subject in waiting:
            held.append(Held(change, why.get(index, waiting[subject]), after_undo=subject in after_undo))
        else:
            apply.append(change)
    return Decision(apply, held, left_out)


def _reasons(
    changes: Sequence[Change], linked_pupils: int, thresholds: Thresholds, hold_all: str | None, undone: Undone
) -> dict[int, str]:
    """Index in ``changes`` -> why that change must wait (the changes that may apply have none)."""
    removals = [c for c in changes if isinstance(c, ArchivePupil | RemoveFromBand)]
    joiners = [c for c in changes if isinstance(c, CreatePupil)]
    too_many_joiners = len(joiners) > thresholds.min_pupils and len(joiners) > thresholds.fraction * max(
        linked_pupils, 1
    )
    leaving = {c.pupil for c in removals}
    too_many = len(leaving) > thresholds.min_pupils and len(leaving) > thresholds.fraction * max(linked_pupils, 1)
    reason = (
        f"{len(leaving)} pupils would be removed in one run ({len(leaving) / max(linked_pupils, 1):.0%} of linked "
        "pupils): held until an admin approves"
    )
    new_refs = {c.ref for c in joiners} if too_many_joiners else set()
    why: dict[int, str] = {}
    for index, change in enumerate(changes):
        if key_of(change) in undone.hold:
            why[index] = UNDONE_REASON
        elif hold_all is not None:
            why[index] = hold_all
        elif too_many_joiners and (isinstance(change, CreatePupil) or getattr(change, "pupil", None) in new_refs):
            # So many new children at once usually means the MIS changed its ids: new accounts would
            # be second accounts for children who already have one.
            why[index] = f"{len(joiners)} new accounts in one run: held until an admin approves"
        elif isinstance(change, RestorePupil) and change.after_grace:
            why[index] = "back after the leaver grace period: confirm it is the same child"
        elif isinstance(change, UnlinkBand):
            why[index] = "the MIS class this band follows has vanished (a new school year?)"
        elif too_many and isinstance(change, ArchivePupil | RemoveFromBand):
            why[index] = reason
    return why
