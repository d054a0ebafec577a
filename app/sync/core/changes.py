"""The typed changes a run can make, shared by merge and reconcile, and the plan that holds them.

Rows a plan creates are referred to as "new:<Wonde id>" until they exist. Each change's ``KEY`` names the
fields that say what it does (the rest say why, or what was there before): an undo recognises a later
plan to make a change it reverted by them (``core/undone.py``). How each kind is counted,
journalled and undone is its entry in ``app.sync.journal.entries``.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, ClassVar, get_args

NEW = "new:"  # prefix of references to rows the plan creates
# Whom a change is about, as held changes are decided (``subject_of``): the prefixes of the three kinds.
PUPIL_SUBJECT, STUDENT_SUBJECT, BAND_SUBJECT = "pupil:", "student:", "band:"


@dataclass(frozen=True)
class LinkBand:
    KEY: ClassVar[tuple[str, ...]] = ("band", "container")

    band: str
    container: str


@dataclass(frozen=True)
class CreateBand:
    KEY: ClassVar[tuple[str, ...]] = ("container",)

    ref: str
    container: str
    name: str
    year_group: int | None


@dataclass(frozen=True)
class LinkPupil:
    KEY: ClassVar[tuple[str, ...]] = ("pupil", "student")

    pupil: str
    student: str


@dataclass(frozen=True)
class CreatePupil:
    KEY: ClassVar[tuple[str, ...]] = ("student",)

    ref: str
    student: str
    first_name: str
    last_name: str
    year_group: int | None


@dataclass(frozen=True)
class AddToBand:
    KEY: ClassVar[tuple[str, ...]] = ("band", "pupil")

    band: str
    pupil: str


@dataclass(frozen=True)
class RemoveFromBand:
    KEY: ClassVar[tuple[str, ...]] = ("band", "pupil")

    band: str
    pupil: str


@dataclass(frozen=True)
class RenamePupil:
    KEY: ClassVar[tuple[str, ...]] = ("pupil", "after")

    pupil: str
    before: tuple[str, str]
    after: tuple[str, str]


@dataclass(frozen=True)
class ChangeYear:
    KEY: ClassVar[tuple[str, ...]] = ("pupil", "after")

    pupil: str
    before: int | None
    after: int | None


@dataclass(frozen=True)
class RenameBand:
    KEY: ClassVar[tuple[str, ...]] = ("band", "after")

    band: str
    before: str
    after: str


@dataclass(frozen=True)
class ArchivePupil:
    KEY: ClassVar[tuple[str, ...]] = ("pupil",)

    pupil: str
    student: str
    reason: str


@dataclass(frozen=True)
class RestorePupil:
    KEY: ClassVar[tuple[str, ...]] = ("pupil",)

    pupil: str
    student: str
    after_grace: bool = False  # archived longer than the school's grace period: an admin confirms


@dataclass(frozen=True)
class UnlinkBand:
    """A synced class vanished from the MIS: the band stops following it (always held for the admin).
    ``suggestion`` is the new class that holds most of the band's pupils (a new school year)."""

    KEY: ClassVar[tuple[str, ...]] = ("band", "container")

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


def as_json(change: Change) -> dict[str, Any]:
    """A change as a held change keeps it: its kind's name under "type", and its fields."""
    return {"type": type(change).__name__, **dataclasses.asdict(change)}


def from_json(data: dict[str, Any]) -> Change:
    """The change ``as_json`` kept (JSON lists come back as the tuples they were)."""
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k != "type"}
    return CHANGE_TYPES[data["type"]](**fields)


# The changes a merge plans (a merge's counts name each of them, zero included).
MERGE_CHANGES: tuple[type[Change], ...] = (LinkBand, CreateBand, LinkPupil, CreatePupil, AddToBand, RemoveFromBand)


# The changes that make, link, restore or archive an account: every other change of that pupil depends on them.
LIFECYCLE: tuple[type[Change], ...] = (CreatePupil, LinkPupil, RestorePupil, ArchivePupil)


def subject_of(change: Change) -> str:
    """Whom a change is about: the pupil ("pupil:<id>"), the child whose account the change would make
    ("student:<Wonde id>"), or the band, for a band's own changes ("band:<id>"). A pupil's changes are
    held and decided together, so no decision leaves a pupil half changed (archived, yet in a band)."""
    if isinstance(change, CreatePupil):
        return STUDENT_SUBJECT + change.student
    pupil: str | None = getattr(change, "pupil", None)
    if pupil is not None:
        return STUDENT_SUBJECT + pupil.removeprefix(NEW) if pupil.startswith(NEW) else PUPIL_SUBJECT + pupil
    if isinstance(change, CreateBand):
        return BAND_SUBJECT + change.ref
    assert isinstance(change, LinkBand | RenameBand | UnlinkBand)  # the rest name a pupil
    return BAND_SUBJECT + change.band


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
