"""Safeguards: which planned changes apply at once and which wait for an admin.

Joiners, renames, year changes and class moves apply. Removals — leavers and pupils leaving synced
bands — apply too unless there are many of them in one run (more than ``min_pupils`` pupils *and* more
than ``fraction`` of the linked pupils): a mass removal is far more often a broken MIS export than a
real exodus, so it is held whole. A synced class that vanished is always held: after a year rollover
the admin should choose the class the band follows next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.sync.core.changes import ArchivePupil, Change, CreatePupil, RemoveFromBand, RestorePupil, UnlinkBand


@dataclass(frozen=True)
class Thresholds:
    min_pupils: int = 5
    fraction: float = 0.10


@dataclass(frozen=True)
class Held:
    change: Change
    reason: str


@dataclass(frozen=True)
class Decision:
    apply: list[Change]
    held: list[Held]


def safeguard(
    changes: Sequence[Change], linked_pupils: int, thresholds: Thresholds, *, hold_all: str | None = None
) -> Decision:
    """Split a plan into what applies now and what waits. ``hold_all`` (a reason) holds everything:
    during an MIS migration every id changes, and only re-linking may follow."""
    if hold_all is not None:
        return Decision([], [Held(change, hold_all) for change in changes])
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
    apply: list[Change] = []
    held: list[Held] = []
    new_refs = {c.ref for c in joiners} if too_many_joiners else set()
    for change in changes:
        if too_many_joiners and (isinstance(change, CreatePupil) or getattr(change, "pupil", None) in new_refs):
            # So many new children at once usually means the MIS changed its ids: new accounts would
            # be second accounts for children who already have one.
            held.append(Held(change, f"{len(joiners)} new accounts in one run: held until an admin approves"))
        elif isinstance(change, RestorePupil) and change.after_grace:
            held.append(Held(change, "back after the leaver grace period: confirm it is the same child"))
        elif isinstance(change, UnlinkBand):
            held.append(Held(change, "the MIS class this band follows has vanished (a new school year?)"))
        elif too_many and isinstance(change, ArchivePupil | RemoveFromBand):
            held.append(Held(change, reason))
        else:
            apply.append(change)
    return Decision(apply, held)
