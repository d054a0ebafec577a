from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import AuditAction, AuditEntry, record_audit
from app.bands.repository import BandRepository, MembershipRepository
from app.errors import BandNotFound, Conflict, PupilNotFound
from app.kit.locking import lock_school
from app.kit.pagination import PageParams
from app.kit.repository import paginate
from app.models import Pupil
from app.pupils.repository import PupilRepository
from app.pupils.schemas import PupilCreate, PupilUpdate
from app.pupils.usernames import allocate_usernames


class ExternalIdTaken(Conflict):
    """Another pupil in this school already has this external_id."""


async def list_pupils(
    session: AsyncSession, school_id: str, page: PageParams, *, band_id: uuid.UUID | None, include_archived: bool
) -> tuple[list[Pupil], int]:
    statement = PupilRepository(session, school_id).listing(band_id=band_id, include_archived=include_archived)
    return await paginate(session, statement, page)


async def get_pupil(session: AsyncSession, school_id: str, pupil_id: uuid.UUID) -> Pupil:
    pupil = await PupilRepository(session, school_id).get(pupil_id)
    if pupil is None:
        raise PupilNotFound()
    return pupil


async def _ensure_external_id_free(
    repository: PupilRepository, external_id: str | None, pupil_id: uuid.UUID | None
) -> None:
    if external_id is None:
        return
    holder = (await repository.by_external_ids([external_id])).get(external_id)
    if holder is not None and holder.id != pupil_id:
        raise ExternalIdTaken()


async def create_pupil(session: AsyncSession, school_id: str, data: PupilCreate, actor: str) -> Pupil:
    """Create an account with a username from the school's policy, in the given bands, journalled as
    ``actor``'s (its username and bands).

    Takes the school's lock so two creations cannot pick the same username.
    """
    await lock_school(session, school_id)
    pupils = PupilRepository(session, school_id)
    band_ids = set(data.band_ids)
    if await BandRepository(session, school_id).count_existing(band_ids) != len(band_ids):
        raise BandNotFound("One of band_ids is not a band of this school.")
    await _ensure_external_id_free(pupils, data.external_id, None)
    names = [(data.first_name, data.last_name)]
    [username] = allocate_usernames(names, await pupils.usernames_like(names))
    pupil = Pupil(
        school_id=school_id,
        first_name=data.first_name,
        last_name=data.last_name,
        year_group=data.year_group,
        external_id=data.external_id,
        username=username,
        source="app",
    )
    session.add(pupil)
    await session.flush()
    await MembershipRepository(session, school_id).add_many((band_id, pupil.id) for band_id in band_ids)
    after = {"username": username, "band_ids": sorted(str(band_id) for band_id in band_ids)}
    await record_audit(
        session, school_id, actor, [AuditEntry.pupil(AuditAction.CREATE_PUPIL_BY_HAND, pupil.id, None, after)]
    )
    await session.refresh(pupil)
    return pupil


_NAMES = ("first_name", "last_name")


async def update_pupil(
    session: AsyncSession, school_id: str, pupil_id: uuid.UUID, data: PupilUpdate, actor: str
) -> Pupil:
    """Change a pupil's names, year or external id. The username never changes.

    What changed is journalled as ``actor``'s: a rename with the old and new names (and any other field
    changed with them), another edit with its fields; a request that changes nothing, not at all."""
    pupils = PupilRepository(session, school_id)
    pupil = await get_pupil(session, school_id, pupil_id)
    changes = data.model_dump(exclude_unset=True)
    if "external_id" in changes:
        await _ensure_external_id_free(pupils, changes["external_id"], pupil.id)
    changes = {
        field: value
        for field, value in changes.items()
        if not (field in _NAMES and value is None)  # names can be changed, not removed
        and getattr(pupil, field) != value
    }
    renamed = any(field in _NAMES for field in changes)
    shown = (*_NAMES, *(f for f in changes if f not in _NAMES)) if renamed else tuple(changes)
    before = {field: getattr(pupil, field) for field in shown}
    for field, value in changes.items():
        setattr(pupil, field, value)
    await session.flush()
    if changes:
        action = AuditAction.RENAME_PUPIL_BY_HAND if renamed else AuditAction.CHANGE_PUPIL_BY_HAND
        after = {field: getattr(pupil, field) for field in shown}
        await record_audit(session, school_id, actor, [AuditEntry.pupil(action, pupil.id, before, after)])
    await session.refresh(pupil)
    return pupil
