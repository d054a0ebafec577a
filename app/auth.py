"""Bearer JWTs from the app's main login: who is calling, for which schools, in which role.

Tokens are verified with the configured algorithm only (so ``alg: none`` and algorithm-swap tricks
fail), and must carry a known issuer and audience and an unexpired ``exp``, and live no longer than
``jwt.max_lifetime_seconds`` (``exp - iat``; ``exp - now`` when there is no ``iat``). A school outside
the token is answered 404, exactly as a school that does not exist, so ids cannot be probed. A school
whose tokens were revoked (``tokens_valid_after``) refuses, with 401, the tokens issued before then
and those without an ``iat``; the check rides on the school's row, which each request loads anyway.

Roles: a school's ``admin`` runs its sync and a ``teacher`` reads it; the ``platform`` (the main app's
back end) registers schools, binds them to Wonde and confirms approvals, for every school, and reads
no pupil data: its token names no schools, and every route inside a school refuses it with 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Forbidden, NotAuthenticated, SchoolNotFound
from app.kit.time import utc_now
from app.kit.unit_of_work import get_session
from app.models import School

Role = Literal["admin", "teacher", "platform"]


class TokenClaims(BaseModel):
    sub: str = Field(min_length=1, max_length=200)
    school_ids: list[str] = Field(max_length=10_000)
    role: Role


@dataclass(frozen=True)
class Principal:
    subject: str
    school_ids: frozenset[str]
    role: Role
    # The token's ``iat``, when it has one.
    issued_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_platform(self) -> bool:
        return self.role == "platform"

    def holds_current_token_for(self, school: School) -> bool:
        """Whether the token still opens the school: issued after its tokens were last revoked."""
        cutoff = school.tokens_valid_after
        return cutoff is None or (self.issued_at is not None and self.issued_at >= cutoff)


def _verification_key(settings: Settings) -> str:
    if settings.jwt.algorithm == "RS256":
        assert settings.jwt.public_key is not None  # enforced by JWTSettings
        return settings.jwt.public_key
    return settings.jwt.secret.get_secret_value()


def decode_token(token: str, settings: Settings) -> Principal:
    try:
        payload = jwt.decode(
            token,
            _verification_key(settings),
            algorithms=[settings.jwt.algorithm],
            audience=settings.jwt.audience,
            issuer=settings.jwt.issuer,
            leeway=settings.jwt.leeway_seconds,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        claims = TokenClaims.model_validate(payload)
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("The token has expired.") from exc
    except (jwt.InvalidTokenError, ValidationError) as exc:
        raise NotAuthenticated("The token is not valid.") from exc
    # PyJWT has checked that exp (and iat, when present) are numbers, exp in the future, iat not.
    expires, issued = int(payload["exp"]), payload.get("iat")
    maximum = settings.jwt.max_lifetime_seconds
    if issued is None:
        too_long = expires - utc_now().timestamp() > maximum + settings.jwt.leeway_seconds
    else:
        too_long = expires - int(issued) > maximum
    if too_long:
        raise NotAuthenticated(f"The token lives longer than the {maximum} seconds allowed.")
    return Principal(
        subject=claims.sub,
        school_ids=frozenset(claims.school_ids),
        role=claims.role,
        issued_at=None if issued is None else datetime.fromtimestamp(int(issued), UTC),
    )


def mint_token(
    settings: Settings, *, school_ids: list[str], role: Role, subject: str = "dev", ttl: timedelta | None = None
) -> str:
    """A token as the app's login would issue it; for development and tests (HS256 only). It lives
    ``ttl``, by default the longest the service accepts (``jwt.max_lifetime_seconds``), never longer."""
    if settings.jwt.algorithm != "HS256":
        raise ValueError("only HS256 tokens can be minted here; RS256 tokens come from the app's login")
    maximum = timedelta(seconds=settings.jwt.max_lifetime_seconds)
    if ttl is None:
        ttl = maximum
    if ttl > maximum:
        raise ValueError(
            f"a token may live at most {maximum.total_seconds() / 3600:g} hours "
            "(BANDSYNC_JWT__MAX_LIFETIME_SECONDS): the service refuses tokens that live longer than that"
        )
    now = utc_now()
    payload = {
        "sub": subject,
        "school_ids": school_ids,
        "role": role,
        "iss": settings.jwt.issuer,
        "aud": settings.jwt.audience,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(payload, settings.jwt.secret.get_secret_value(), algorithm="HS256")


_bearer = HTTPBearer(auto_error=False, description="A JWT issued by the app's main login.")


def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise NotAuthenticated()
    settings: Settings = request.app.state.settings
    return decode_token(credentials.credentials, settings)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


PLATFORM_ONLY = "Only the platform may do this: it registers schools, binds them to Wonde and confirms approvals."
NO_PUPIL_DATA = "The platform role reads no pupil data; a school's own admins and teachers do."


def require_platform(principal: CurrentPrincipal) -> Principal:
    """A platform act. As a dependency it answers 403 before the body is validated, so a school's
    token learns nothing of what the body should hold."""
    if not principal.is_platform:
        raise Forbidden(PLATFORM_ONLY)
    return principal


PlatformPrincipal = Annotated[Principal, Depends(require_platform)]


async def open_school(session: AsyncSession, principal: Principal, school_id: str, *, admin: bool) -> School:
    """The school a school's token opens: one outside the token is 404 (as if it did not exist), a
    revoked token 401, and a teacher may only read. The platform is refused (it reads no pupil data)."""
    if principal.is_platform:
        raise Forbidden(NO_PUPIL_DATA)
    if school_id not in principal.school_ids:
        raise SchoolNotFound()
    school = await session.get(School, school_id)
    if school is None:
        raise SchoolNotFound()
    if not principal.holds_current_token_for(school):  # the row is loaded anyway: no extra query
        raise NotAuthenticated("The token was issued before this school's tokens were revoked.")
    if admin and not principal.is_admin:
        raise Forbidden("Only a school admin may do this.")
    return school


def _school_access(*, admin: bool) -> Callable[..., Awaitable[Principal]]:
    async def check(
        school_id: str, principal: CurrentPrincipal, session: Annotated[AsyncSession, Depends(get_session)]
    ) -> Principal:
        await open_school(session, principal, school_id, admin=admin)
        return principal

    return check


# Any role of a school may read it when it is in the token and registered here; only its admins may change it.
school_reader = _school_access(admin=False)
school_admin = _school_access(admin=True)

SchoolReader = Annotated[Principal, Depends(school_reader)]
SchoolAdmin = Annotated[Principal, Depends(school_admin)]
