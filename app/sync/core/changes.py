"""The typed changes a run can make, shared by merge and reconcile, and the plan that holds them.

Rows a plan creates are referred to as "new:<Wonde id>" until they exist. How each kind is counted,
journalled and undone is its entry in ``app.sync.journal.entries``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import get_args

NEW = "new:"  # prefix of references to rows the plan creates


@dataclass(frozen=True)
class LinkBand:
    band: str
    container: str


@dataclass(frozen=True)
class CreateBand:
    ref: str
    container: str
    name: str
    year_group: int | None


@dataclass(frozen=True)
class LinkPupil:
    pupil: str
    student: str


@dataclass(frozen=True)
class CreatePupil:
    ref: str
    student: str
    first_name: str
    last_name: str
    year_group: int | None


@dataclass(frozen=True)
class AddToBand:
    band: str
    pupil: str


@dataclass(frozen=True)
class RemoveFromBand:
    band: str
    pupil: str


@dataclass(frozen=True)
class RenamePupil:
    pupil: str
    before: tuple[str, str]
    after: tuple[str, str]


@dataclass(frozen=True)
class ChangeYear:
    pupil: str
    before: int | None
    after: int | None


@dataclass(frozen=True)
class RenameBand:
    band: str
    before: str
    after: str


@dataclass(frozen=True)
class ArchivePupil:
    pupil: str
    student: str
    reason: str


@dataclass(frozen=True)
class RestorePupil:
    pupil: str
    student: str
    after_grace: bool = False  # archived longer than the school's grace period: an admin confirms


@dataclass(frozen=True)
class UnlinkBand:
    """A synced class vanished from the MIS: the band stops following it (always held for the admin).
    ``suggestion`` is the new class that holds most of the band's pupils (a new school year)."""

    band: str
    container: str
    suggestion: str | None = None


Change = (
    LinkBand
    | CreateBand
    | LinkPupil
    | CreatePupil
    | AddToBand
    | RemoveFromBand
    | RenamePupil
    | ChangeYear
    | RenameBand
    | ArchivePupil
    | RestorePupil
    | UnlinkBand
)

# Every kind of change by its class name: how a held change, kept as JSON, names its kind.
CHANGE_TYPES: dict[str, type[Change]] = {kind.__name__: kind for kind in get_args(Change)}

# The changes a merge plans (a merge's counts name each of them, zero included).
MERGE_CHANGES: tuple[type[Change], ...] = (LinkBand, CreateBand, LinkPupil, CreatePupil, AddToBand, RemoveFromBand)


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)

    def of(self, kind: type) -> list[Change]:
        return [c for c in self.changes if isinstance(c, kind)]

    def leaving(self) -> dict[str, list[str]]:
        """Band -> pupils the merge would take out of it (the sets-vs-forms trap, shown before merge)."""
        found: dict[str, list[str]] = defaultdict(list)
        for change in self.of(RemoveFromBand):
            assert isinstance(change, RemoveFromBand)
            found[change.band].append(change.pupil)
        return dict(found)
