from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import AuditAction, AuditEntry, record_audit
from app.auth import Principal
from app.errors import Conflict, SchoolAlreadyExists, SchoolNotFound
from app.kit.crypto import SecretBox
from app.kit.pagination import PageParams
from app.kit.repository import paginate
from app.models import School
from app.models.school import SchoolState
from app.schools.repository import SchoolRepository
from app.schools.schemas import SchoolCreate, SchoolUpdate

WONDE_ID_TAKEN = "Another school is already linked to this Wonde school."


class WondeBindingInUse(Conflict):
    """The school holds a Wonde approval: disconnect it, or reject the approval, before binding it anew."""


class ConnectionRequired(Conflict):
    """The school must be connected to Wonde for this."""


class AwaitingConfirmation(ConnectionRequired):
    """The school's Wonde approval waits for the platform's confirmation: nothing is read or merged until then."""


class SchoolNotConnected(ConnectionRequired):
    """The school is not connected to Wonde yet: it must approve the app in Wonde first."""


class SchoolDisconnected(ConnectionRequired):
    """The school is disconnected from Wonde; connect it again first (it approves the app in Wonde again)."""


def require_trusted_approval(school: School) -> None:
    """Refuse to read or merge a school whose Wonde approval the platform has not confirmed."""
    if school.state == SchoolState.NEEDS_CONFIRMATION:
        raise AwaitingConfirmation()


def require_connected(school: School) -> None:
    """Refuse to start what needs the school's Wonde connection (a merge, a sync) unless it has one
    that is trusted: a merge would make a school with no connection ``syncing``, and every sync of it
    would then fail."""
    require_trusted_approval(school)
    if school.state == SchoolState.DISCONNECTED:
        raise SchoolDisconnected()
    if school.state == SchoolState.PENDING:
        raise SchoolNotConnected()


async def create_school(session: AsyncSession, data: SchoolCreate) -> School:
    """Register the school (a platform act: its conflicts may name what is taken). A registration that
    races another with the same id or Wonde id (both looked before either committed) loses at the
    unique index and is answered the same 409."""
    repository = SchoolRepository(session)
    if await repository.get(data.id) is not None:
        raise SchoolAlreadyExists()
    if data.wonde_school_id and await repository.by_wonde_id(data.wonde_school_id) is not None:
        raise SchoolAlreadyExists(WONDE_ID_TAKEN)
    school = School(**data.model_dump())
    taken = await repository.insert(school)
    if taken == "id":
        raise SchoolAlreadyExists()
    if taken is not None:
        raise SchoolAlreadyExists(WONDE_ID_TAKEN)
    await session.refresh(school)
    return school


async def get_school(session: AsyncSession, school_id: str) -> School:
    """The school, which the caller's token must already have been checked to cover."""
    school = await SchoolRepository(session).get(school_id)
    if school is None:
        raise SchoolNotFound()
    return school


async def list_schools(
    session: AsyncSession, principal: Principal, page: PageParams, state: SchoolState | None = None
) -> tuple[list[School], int]:
    """Every school for the platform; for anyone else, the schools their token names and still opens."""
    repository = SchoolRepository(session)
    if principal.is_platform:
        listing = repository.every()
    else:
        listing = repository.among(principal.school_ids, token_issued_at=principal.issued_at)
    if state is not None:
        listing = listing.where(School.state == state)
    return await paginate(session, listing, page)


async def connect_to_wonde(
    session: AsyncSession, school_id: str, *, wonde_school_id: str, token: str, domain: str | None, box: SecretBox
) -> School:
    """Store the school's Wonde link: its Wonde id, region domain and token (encrypted, never in clear).

    The caller must already have verified the token against Wonde (the webhook does, by reading the
    school with it).
    """
    school = await get_school(session, school_id)
    school.wonde_school_id = wonde_school_id
    school.wonde_domain = domain
    school.wonde_token_encrypted = box.encrypt(token)
    school.consent_ended_at = None  # the school consents again: its MIS mirror is kept (and reused)
    if school.state in (SchoolState.PENDING, SchoolState.DISCONNECTED):
        school.state = SchoolState.APPROVED
    await session.flush()
    return school


async def update_school(session: AsyncSession, school_id: str, data: SchoolUpdate, actor: str) -> School:
    """Change the school's settings (name, time zone, safeguards) or, for the platform, its identity
    (URN, LA code, establishment number, Wonde id); who may change which is the endpoint's rule.

    Journalled as ``actor``'s, with the fields that changed (before and after); a request that changes
    nothing is not journalled."""
    school = await get_school(session, school_id)
    changes = {field: value for field, value in data.model_dump(exclude_unset=True).items() if value is not None}
    before = {field: getattr(school, field) for field in changes}
    rebinding = changes.get("wonde_school_id", school.wonde_school_id) != school.wonde_school_id
    unbound = school.wonde_token_encrypted is None and school.state in (SchoolState.PENDING, SchoolState.DISCONNECTED)
    if rebinding and not unbound:
        raise WondeBindingInUse()
    repository = SchoolRepository(session)
    if rebinding and await repository.by_wonde_id(changes["wonde_school_id"]) is not None:
        raise SchoolAlreadyExists(WONDE_ID_TAKEN)
    for field, value in changes.items():
        setattr(school, field, value)
    if rebinding and await repository.flush_in_savepoint() is not None:
        raise SchoolAlreadyExists(WONDE_ID_TAKEN)
    await session.flush()
    await session.refresh(school)
    after = {field: getattr(school, field) for field in changes}
    changed = [field for field in changes if after[field] != before[field]]
    if changed:
        entry = AuditEntry.school(
            AuditAction.CHANGE_SETTINGS,
            school_id,
            before={field: before[field] for field in changed},
            after={field: after[field] for field in changed},
        )
        await record_audit(session, school_id, actor, [entry])
    return school
