"""Held changes as an admin decides them: one group per pupil (or per child whose account would be made,
or per band for a band's own changes), with a name to show and the reasons it waits."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.bands.repository import BandRepository
from app.models import ChangeRow
from app.pupils.repository import PupilRepository
from app.sync.core import changes as kinds
from app.sync.core.changes import BAND_SUBJECT, PUPIL_SUBJECT, STUDENT_SUBJECT
from app.sync.journal.repository import ChangeRepository
from app.sync.reconcile.held_rows import after_undo, change_of, subject_of_row, view
from app.sync.reconcile.schemas import HeldGroup


def _new_child_name(rows: list[ChangeRow]) -> str | None:
    """A new child's names, from the change that would make their account."""
    for change in map(change_of, rows):
        if isinstance(change, kinds.CreatePupil) and change.first_name is not None:
            return f"{change.first_name} {change.last_name}"
    return None


async def grouped(session: AsyncSession, school_id: str) -> list[HeldGroup]:
    """The held changes waiting for an admin, one group per pupil, child or band, in the order the first
    change of each was held."""
    by_subject: dict[str, list[ChangeRow]] = {}
    for row in sorted(await ChangeRepository(session, school_id).held(), key=lambda r: r.id):
        by_subject.setdefault(subject_of_row(row), []).append(row)
    pupils = {uuid.UUID(s.removeprefix(PUPIL_SUBJECT)) for s in by_subject if s.startswith(PUPIL_SUBJECT)}
    bands = {uuid.UUID(s.removeprefix(BAND_SUBJECT)) for s in by_subject if s.startswith(BAND_SUBJECT)}
    pupil_names = await PupilRepository(session, school_id).full_names(pupils)
    band_names = await BandRepository(session, school_id).names(bands)
    groups = []
    for subject, rows in by_subject.items():
        ref = subject.partition(":")[2]
        pupil_id = uuid.UUID(ref) if subject.startswith(PUPIL_SUBJECT) else None
        band_id = uuid.UUID(ref) if subject.startswith(BAND_SUBJECT) else None
        student = ref if subject.startswith(STUDENT_SUBJECT) else None
        if pupil_id is not None:
            name = pupil_names.get(pupil_id)
        elif band_id is not None:
            name = band_names.get(band_id)
        else:
            name = _new_child_name(rows)
        groups.append(
            HeldGroup(
                id=subject,
                pupil_id=pupil_id,
                band_id=band_id,
                student=student,
                name=name,
                reasons=list(dict.fromkeys((row.after or {}).get("reason", "") for row in rows)),
                after_undo=any(after_undo(row) for row in rows),
                changes=[view(row) for row in rows],
            )
        )
    return groups
