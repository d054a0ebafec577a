"""The change vocabulary: every action the journal holds, and one ``Kind`` per kind of change saying
how it is counted, named in the sync preview, journalled and undone.

A new kind of change is its dataclass in ``core/changes.py``, its planner rule, and here: its two
actions (the change and its undo), what its entry says, and its ``Kind`` in ``KINDS`` (with a revert
from ``reverts.py``, a new one there if none fits). Stored actions and before/after values are data
(old rows are still shown and undone), so their strings and shapes never change.

Beside the runs' actions the journal holds the audit actions (``app/audit.py``, where they are defined
once, since the domains write them): acts of a person outside any run, shown like the rest and never
undone (``AUDIT_ACTIONS``; ``JOURNAL_ACTIONS`` is the whole vocabulary).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from app.audit import AuditAction
from app.models import Band, ChangeRow, ChangeStatus, Entity, Pupil
from app.sync.core.changes import (
    NEW,
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
from app.sync.journal import reverts
from app.sync.journal.reverts import Revert


class Action(StrEnum):
    """Every action in the journal, as stored."""

    LINK_BAND = "link_band"
    CREATE_BAND = "create_band"
    RENAME_BAND = "rename_band"
    UNLINK_BAND = "unlink_band"
    LINK_PUPIL = "link_pupil"
    CREATE_PUPIL = "create_pupil"
    RENAME_PUPIL = "rename_pupil"
    CHANGE_YEAR = "change_year"
    ARCHIVE_PUPIL = "archive_pupil"
    RESTORE_PUPIL = "restore_pupil"
    UNLINK_PUPIL = "unlink_pupil"  # journalled by a disconnect
    ADD_TO_BAND = "add_to_band"
    REMOVE_FROM_BAND = "remove_from_band"
    END_MIGRATION = "end_migration"  # the school's MIS migration is over
    # An account anonymised (a leaver past the grace period, or erased on request): final, nothing is
    # kept to undo it with.
    ANONYMISE_PUPIL = "anonymise_pupil"
    HELD = "held"  # a change waiting for an admin (the row's after holds it; see reconcile/held.py)
    # An undo run journals each change it reverted as "undo_" + its action.
    UNDO_LINK_BAND = "undo_link_band"
    UNDO_CREATE_BAND = "undo_create_band"
    UNDO_RENAME_BAND = "undo_rename_band"
    UNDO_UNLINK_BAND = "undo_unlink_band"
    UNDO_LINK_PUPIL = "undo_link_pupil"
    UNDO_CREATE_PUPIL = "undo_create_pupil"
    UNDO_RENAME_PUPIL = "undo_rename_pupil"
    UNDO_CHANGE_YEAR = "undo_change_year"
    UNDO_ARCHIVE_PUPIL = "undo_archive_pupil"
    UNDO_RESTORE_PUPIL = "undo_restore_pupil"
    UNDO_UNLINK_PUPIL = "undo_unlink_pupil"
    UNDO_ADD_TO_BAND = "undo_add_to_band"
    UNDO_REMOVE_FROM_BAND = "undo_remove_from_band"
    UNDO_END_MIGRATION = "undo_end_migration"

    @property
    def undone(self) -> Action:
        """The action an undo run journals when it reverts this one."""
        return Action(f"undo_{self.value}")


def id_text(value: uuid.UUID | None) -> str | None:
    """An id as the journal's before and after values keep it (JSON has no UUID)."""
    return str(value) if value else None


Values = dict[str, Any] | None


@dataclass(frozen=True)
class Entry:
    """One journal row to write (``writer.record`` writes a run step's entries in one statement)."""

    entity_type: Entity
    entity_id: str
    action: Action
    before: Values
    after: Values
    pupil_id: uuid.UUID | None = None
    band_id: uuid.UUID | None = None
    status: ChangeStatus = ChangeStatus.APPLIED


@dataclass(frozen=True)
class Subject:
    """What an entry is about: its entity, and its pupil and band (for timelines and filters)."""

    entity: Entity
    id: str
    pupil_id: uuid.UUID | None = None
    band_id: uuid.UUID | None = None

    @classmethod
    def pupil(cls, pupil: uuid.UUID | str) -> Subject:
        return cls(Entity.PUPIL, str(pupil), pupil_id=_as_uuid(pupil))

    @classmethod
    def band(cls, band: uuid.UUID | str) -> Subject:
        return cls(Entity.BAND, str(band), band_id=_as_uuid(band))

    @classmethod
    def membership(cls, band: uuid.UUID, pupil: uuid.UUID) -> Subject:
        return cls(Entity.BAND_MEMBERSHIP, f"{band}:{pupil}", pupil_id=pupil, band_id=band)

    def entry(
        self, action: Action, before: Values, after: Values, status: ChangeStatus = ChangeStatus.APPLIED
    ) -> Entry:
        return Entry(self.entity, self.id, action, before, after, self.pupil_id, self.band_id, status)


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


# --- How a change becomes its entry -------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What apply knows, besides a change, when it journals it (it fills the mappings as it writes)."""

    now: datetime
    created: Mapping[str, uuid.UUID]  # "new:<Wonde id>" -> the id of the row the plan created
    usernames: Mapping[uuid.UUID, str]  # a created pupil -> its username
    followed: Mapping[uuid.UUID, uuid.UUID | None]  # a pupil linked -> the student it followed before
    bands: Mapping[uuid.UUID, Band]  # the bands the plan may change (see _link_band)

    def id(self, ref: str) -> uuid.UUID:
        return self.created[ref] if ref.startswith(NEW) else uuid.UUID(ref)


Said = tuple[Subject, Values, Values]  # what an entry says: about what, before, after
_NAMES = ("first_name", "last_name")


def _link_band(c: LinkBand, f: Facts) -> Said:
    # NB: read when apply journals, after its bulk UPDATE of the bands. Stored journals show this
    # "before" holding the new link, so that undoing a link_band leaves the link; kept as it is (the
    # stored-journal fixture pins it).
    band = f.bands[uuid.UUID(c.band)]
    before = {"mis_class_id": id_text(band.mis_class_id), "mis_group_id": id_text(band.mis_group_id)}
    return Subject.band(band.id), before, {"container": c.container}


def _create_band(c: CreateBand, f: Facts) -> Said:
    return Subject.band(f.id(c.ref)), None, {"name": c.name, "container": c.container}


def _link_pupil(c: LinkPupil, f: Facts) -> Said:
    # The student the pupil followed before (an MIS migration re-links linked pupils): undo puts
    # exactly that link back.
    before = {"mis_student_id": id_text(f.followed.get(uuid.UUID(c.pupil)))}
    return Subject.pupil(c.pupil), before, {"student": c.student}


def _create_pupil(c: CreatePupil, f: Facts) -> Said:
    pupil = f.id(c.ref)
    return Subject.pupil(pupil), None, {"student": c.student, "username": f.usernames[pupil]}


def _add_to_band(c: AddToBand, f: Facts) -> Said:
    band, pupil = f.id(c.band), f.id(c.pupil)
    return Subject.membership(band, pupil), None, {"band_id": str(band), "pupil_id": str(pupil)}


def _remove_from_band(c: RemoveFromBand, f: Facts) -> Said:
    band, pupil = uuid.UUID(c.band), uuid.UUID(c.pupil)
    return Subject.membership(band, pupil), {"band_id": str(band), "pupil_id": str(pupil)}, None


def _rename_pupil(c: RenamePupil, f: Facts) -> Said:
    return Subject.pupil(c.pupil), dict(zip(_NAMES, c.before, strict=True)), dict(zip(_NAMES, c.after, strict=True))


def _change_year(c: ChangeYear, f: Facts) -> Said:
    return Subject.pupil(c.pupil), {"year_group": c.before}, {"year_group": c.after}


def _rename_band(c: RenameBand, f: Facts) -> Said:
    return Subject.band(c.band), {"name": c.before}, {"name": c.after}


def _archive_pupil(c: ArchivePupil, f: Facts) -> Said:
    return Subject.pupil(c.pupil), {"archived_at": None}, {"archived_at": f.now.isoformat(), "reason": c.reason}


def _restore_pupil(c: RestorePupil, f: Facts) -> Said:
    return Subject.pupil(c.pupil), {"archived_at": f.now.isoformat()}, {"archived_at": None}


def _unlink_band(c: UnlinkBand, f: Facts) -> Said:
    return Subject.band(c.band), {"container": c.container}, {"container": None}


# --- The table ----------------------------------------------------------------------------------

C = TypeVar("C")


@dataclass(frozen=True)
class Kind(Generic[C]):
    """One kind of change: its action in the journal, what its entry says, how undo reverts it, its
    key in a run's counts (``label``) and its noun in the sync preview's sentence (``word``; None: the
    label itself)."""

    change: type[C]
    action: Action
    says: Callable[[C, Facts], Said]
    revert: Revert
    label: str
    word: str | None
    undo_unlinks: bool = False  # undoing it leaves the account following no student (until it returns)

    def entry(self, change: C, facts: Facts) -> Entry:
        about, before, after = self.says(change, facts)
        return about.entry(self.action, before, after)


# fmt: off
KINDS: tuple[Kind[Any], ...] = (
    # Kind(change, action, what its entry says, how undo reverts it,
    #      label, word[, undo_unlinks])
    Kind(LinkBand,       Action.LINK_BAND,        _link_band,        reverts.link_band_back,
         "bands_linked", None),
    Kind(CreateBand,     Action.CREATE_BAND,      _create_band,      reverts.archive_created_band,
         "bands_created", None),
    Kind(LinkPupil,      Action.LINK_PUPIL,       _link_pupil,       reverts.link_pupil_back,
         "pupils_linked", None, True),
    Kind(CreatePupil,    Action.CREATE_PUPIL,     _create_pupil,     reverts.archive_created_pupil,
         "pupils_created", "joiner", True),
    Kind(AddToBand,      Action.ADD_TO_BAND,      _add_to_band,      reverts.take_out_of_band,
         "memberships_added", "class move in"),
    Kind(RemoveFromBand, Action.REMOVE_FROM_BAND, _remove_from_band, reverts.put_back_in_band,
         "memberships_removed", "class move out"),
    Kind(RenamePupil,    Action.RENAME_PUPIL,     _rename_pupil,     reverts.names_back,
         "pupils_renamed", "name change"),
    Kind(ChangeYear,     Action.CHANGE_YEAR,      _change_year,      reverts.year_back,
         "year_changes", "year change"),
    Kind(RenameBand,     Action.RENAME_BAND,      _rename_band,      reverts.band_name_back,
         "bands_renamed", "band renamed"),
    Kind(ArchivePupil,   Action.ARCHIVE_PUPIL,    _archive_pupil,    reverts.unarchive,
         "leavers", "leaver"),
    Kind(RestorePupil,   Action.RESTORE_PUPIL,    _restore_pupil,    reverts.archive_again,
         "returners", "returner"),
    Kind(UnlinkBand,     Action.UNLINK_BAND,      _unlink_band,      reverts.link_band_back,
         "classes_vanished", "class vanished"),
)
# fmt: on
KIND_OF: dict[type, Kind[Any]] = {kind.change: kind for kind in KINDS}
LABELS: dict[type, str] = {kind.change: kind.label for kind in KINDS}
WORDS: dict[str, str] = {kind.label: kind.word for kind in KINDS if kind.word}

# Journalled by hand rather than planned, and undone like the rest: a disconnect unlinking each
# account (it unlinks bands as ``unlink_band``), and the end of an MIS migration.
BY_HAND: dict[Action, Revert] = {
    Action.UNLINK_PUPIL: reverts.link_pupil_back,
    Action.END_MIGRATION: reverts.migrating_again,
}
REVERTS: dict[str, Revert] = {kind.action.value: kind.revert for kind in KINDS} | {
    a.value: r for a, r in BY_HAND.items()
}

# Actions no undo reverts: what they removed is not kept anywhere.
FINAL: frozenset[Action] = frozenset({Action.ANONYMISE_PUPIL})

# Acts of a person outside any run (a password reset, a rename by hand, a download of login details ...):
# journalled with their actor and no run, on the journal and the timelines like the rest, and never
# undone: they have no revert, and no run whose undo could pick them up.
AUDIT_ACTIONS: frozenset[str] = frozenset(AuditAction)
# Every action the journal holds, as stored: the runs' and the audit's.
JOURNAL_ACTIONS: frozenset[str] = frozenset(Action) | AUDIT_ACTIONS

# The actions that took an account from its student while keeping the account (the latest of each
# account's is remembered: a returning student gets that account back).
TAKEN_FROM_STUDENT: tuple[Action, ...] = (Action.UNLINK_PUPIL, *(k.action.undone for k in KINDS if k.undo_unlinks))


def journal(changes: Iterable[Change], facts: Facts) -> list[Entry]:
    """The journal entries of changes apply made, in their order."""
    return [KIND_OF[type(change)].entry(change, facts) for change in changes]


def counts(changes: Iterable[Change], of: Iterable[type] = tuple(LABELS)) -> dict[str, int]:
    """How many changes of each kind, by label, zero included, in the order of ``of`` (every kind)."""
    tally = Counter(type(change) for change in changes)
    return {LABELS[kind]: tally[kind] for kind in of}


def nonzero_counts(changes: Iterable[Change]) -> dict[str, int]:
    return {label: n for label, n in counts(changes).items() if n}


def sentence(counts: Mapping[str, int]) -> str:
    """Counts as the sync preview says them: "3 joiners, 1 name change"."""
    parts = [f"{n} {WORDS.get(label, label)}{'' if n == 1 else 's'}" for label, n in counts.items() if n]
    return ", ".join(parts) or "nothing to change"


# --- Entries written by hand --------------------------------------------------------------------


def unlinked_band(band: Band) -> Entry:
    """A disconnect unlinking a band (its before is the link's columns: no Wonde id is at hand)."""
    before = {"mis_class_id": id_text(band.mis_class_id), "mis_group_id": id_text(band.mis_group_id)}
    return Subject.band(band.id).entry(Action.UNLINK_BAND, before, {"mis_class_id": None, "mis_group_id": None})


def unlinked_pupil(pupil: Pupil, student: str | None) -> Entry:
    """A disconnect unlinking an account from its student. ``student`` is the student's Wonde id (entries
    written before it was kept have only ``mis_student_id``): the mirror row ``mis_student_id`` names
    is deleted once the school's consent has ended long enough, and a reconnection after that finds
    the child again by their Wonde id."""
    before = {"mis_student_id": id_text(pupil.mis_student_id)} | ({"student": student} if student else {})
    return Subject.pupil(pupil.id).entry(Action.UNLINK_PUPIL, before, {"mis_student_id": None})


def ended_migration(school_id: str, migrating_since: datetime) -> Entry:
    """The end of an MIS migration, so that undoing the run puts the school back to migrating."""
    subject = Subject(Entity.SCHOOL, school_id)
    return subject.entry(
        Action.END_MIGRATION, {"migrating_since": migrating_since.isoformat()}, {"migrating_since": None}
    )


def undoing(row: ChangeRow) -> Entry:
    """What an undo run journals for a row it reverted: the same subject, before and after swapped."""
    action = Action(row.action).undone
    return Entry(Entity(row.entity_type), row.entity_id, action, row.after, row.before, row.pupil_id, row.band_id)
