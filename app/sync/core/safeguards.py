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

from app.sync.core.changes import ArchivePupil, Change, RemoveFromBand, UnlinkBand


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


def safeguard(changes: Sequence[Change], linked_pupils: int, thresholds: Thresholds) -> Decision:
    removals = [c for c in changes if isinstance(c, ArchivePupil | RemoveFromBand)]
    leaving = {c.pupil for c in removals}
    too_many = len(leaving) > thresholds.min_pupils and len(leaving) > thresholds.fraction * max(linked_pupils, 1)
    reason = (
        f"{len(leaving)} pupils would be removed in one run ({len(leaving) / max(linked_pupils, 1):.0%} of linked "
        "pupils): held until an admin approves"
    )
    apply: list[Change] = []
    held: list[Held] = []
    for change in changes:
        if isinstance(change, UnlinkBand):
            held.append(Held(change, "the MIS class this band follows has vanished (a new school year?)"))
        elif too_many and isinstance(change, ArchivePupil | RemoveFromBand):
            held.append(Held(change, reason))
        else:
            apply.append(change)
    return Decision(apply, held)
