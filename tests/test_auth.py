"""Token verification: only tokens signed with the configured key and algorithm, for our issuer and
audience, unexpired, living no longer than the maximum lifetime, with the claims we need, make a
principal; a school's tokens issued before its cutoff (``tokens_valid_after``) no longer open it."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import decode_token, mint_token
from app.config import JWTSettings, Settings
from app.errors import NotAuthenticated
from app.kit.time import utc_now
from app.models import School


def _claims(settings: Settings, **override: Any) -> dict[str, Any]:
    now = utc_now()
    claims = {
        "sub": "u1",
        "school_ids": ["s1"],
        "role": "teacher",
        "iss": settings.jwt.issuer,
        "aud": settings.jwt.audience,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


def _hs256(settings: Settings, claims: dict[str, Any], secret: str | None = None) -> str:
    return jwt.encode(claims, secret or settings.jwt.secret.get_secret_value(), algorithm="HS256")


def test_a_good_token_gives_a_principal(settings: Settings) -> None:
    principal = decode_token(mint_token(settings, school_ids=["s1", "s2"], role="admin", subject="u9"), settings)
    assert principal.subject == "u9"
    assert principal.school_ids == {"s1", "s2"}
    assert principal.is_admin


@pytest.mark.parametrize(
    ("override", "secret"),
    [
        ({"exp": utc_now() - timedelta(minutes=5)}, None),
        ({"iss": "someone-else"}, None),
        ({"aud": "another-service"}, None),
        ({"role": "superuser"}, None),
        ({"school_ids": "s1"}, None),
        ({"exp": None}, None),
        ({"sub": None}, None),
        ({}, "a-different-secret-of-enough-length-000"),
    ],
    ids=["expired", "issuer", "audience", "role", "school_ids", "no-exp", "no-sub", "signature"],
)
def test_bad_tokens_are_refused(settings: Settings, override: dict[str, Any], secret: str | None) -> None:
    with pytest.raises(NotAuthenticated):
        decode_token(_hs256(settings, _claims(settings, **override), secret), settings)


def test_alg_none_is_refused(settings: Settings) -> None:
    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data, default=str).encode()).rstrip(b"=").decode()

    claims = _claims(settings, exp=int((utc_now() + timedelta(minutes=5)).timestamp()), iat=None)
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    with pytest.raises(NotAuthenticated):
        decode_token(unsigned, settings)


def test_rs256_tokens_verify_with_the_public_key_only(settings: Settings) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    rs_settings = settings.model_copy(
        update={"jwt": JWTSettings(algorithm="RS256", public_key=public_pem, issuer="test-issuer", audience="bandsync")}
    )
    token = jwt.encode(_claims(rs_settings), key, algorithm="RS256")
    assert decode_token(token, rs_settings).school_ids == {"s1"}
    # An HS256 token signed with the public key as a shared secret (algorithm confusion) is refused.
    confused = jwt.encode(_claims(rs_settings), "x" * 64, algorithm="HS256")
    with pytest.raises(NotAuthenticated):
        decode_token(confused, rs_settings)


# -- lifetime ------------------------------------------------------------------------------------

HOUR = timedelta(hours=1)
CENTURY = timedelta(days=36525)
ZERO = timedelta(0)


def _lived(settings: Settings, issued: timedelta | None, expires: timedelta) -> tuple[str, datetime | None]:
    """A token issued and expiring at these offsets from now (whole seconds, as JWTs carry them)."""
    now = utc_now().replace(microsecond=0)
    issued_at = None if issued is None else now + issued
    return _hs256(settings, _claims(settings, iat=issued_at, exp=now + expires)), issued_at


@pytest.mark.parametrize(
    ("issued", "expires"),
    [
        (ZERO, CENTURY),
        (-HOUR, CENTURY),
        (None, CENTURY),
        (ZERO, 12 * HOUR + timedelta(seconds=1)),
        (-12 * HOUR, timedelta(minutes=1)),
        (None, 12 * HOUR + timedelta(minutes=2)),
    ],
    ids=["100-years", "100-years-earlier", "100-years-no-iat", "12h-and-1s", "issued-12h-ago", "no-iat-12h-2min"],
)
def test_a_token_that_lives_longer_than_the_maximum_is_refused(
    settings: Settings, issued: timedelta | None, expires: timedelta
) -> None:
    token, _ = _lived(settings, issued, expires)
    with pytest.raises(NotAuthenticated, match="lives longer"):
        decode_token(token, settings)


@pytest.mark.parametrize(
    ("issued", "expires"),
    [(ZERO, 12 * HOUR), (-11 * HOUR, HOUR), (None, 12 * HOUR), (None, timedelta(minutes=5))],
    ids=["12h", "issued-11h-ago", "no-iat-12h", "no-iat-5min"],
)
def test_a_token_within_the_maximum_lifetime_is_accepted(
    settings: Settings, issued: timedelta | None, expires: timedelta
) -> None:
    token, issued_at = _lived(settings, issued, expires)
    assert decode_token(token, settings).issued_at == issued_at


def test_the_maximum_lifetime_is_a_setting(settings: Settings) -> None:
    hourly = settings.model_copy(update={"jwt": settings.jwt.model_copy(update={"max_lifetime_seconds": 3600})})
    decode_token(_lived(hourly, ZERO, HOUR)[0], hourly)
    with pytest.raises(NotAuthenticated, match="lives longer"):
        decode_token(_lived(hourly, ZERO, 2 * HOUR)[0], hourly)
    assert Settings().jwt.max_lifetime_seconds == 12 * 3600


def test_minted_tokens_live_at_most_the_maximum(settings: Settings) -> None:
    token = mint_token(settings, school_ids=["s1"], role="admin")
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["exp"] - payload["iat"] == settings.jwt.max_lifetime_seconds
    decode_token(token, settings)
    with pytest.raises(ValueError, match="longer than"):
        mint_token(settings, school_ids=["s1"], role="admin", ttl=timedelta(hours=13))


# -- per-school revocation -----------------------------------------------------------------------


def _bearer(settings: Settings, school_ids: list[str], issued: datetime | None) -> dict[str, str]:
    claims = _claims(settings, school_ids=school_ids, role="admin", iat=issued, exp=utc_now() + HOUR)
    return {"Authorization": f"Bearer {_hs256(settings, claims)}"}


async def test_tokens_issued_before_a_schools_cutoff_are_refused_for_that_school(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, school: School, other_school: School
) -> None:
    cutoff = utc_now().replace(microsecond=0) - timedelta(minutes=10)
    before = _bearer(settings, [school.id, other_school.id], cutoff - timedelta(seconds=1))
    at = _bearer(settings, [school.id], cutoff)
    after = _bearer(settings, [school.id], cutoff + timedelta(minutes=5))
    without_iat = _bearer(settings, [school.id, other_school.id], None)
    for headers in (before, at, after, without_iat):
        assert (await client.get(f"/v1/schools/{school.id}", headers=headers)).status_code == 200

    school.tokens_valid_after = cutoff
    await session.commit()

    refused = await client.get(f"/v1/schools/{school.id}", headers=before)
    assert refused.status_code == 401
    assert refused.json()["error"] == "NotAuthenticated"
    assert "revoked" in refused.json()["detail"]
    assert (await client.get(f"/v1/schools/{school.id}/bands", headers=before)).status_code == 401
    assert (await client.patch(f"/v1/schools/{school.id}", json={"name": "X"}, headers=before)).status_code == 401
    assert (await client.get(f"/v1/schools/{school.id}", headers=without_iat)).status_code == 401
    assert (await client.get(f"/v1/schools/{school.id}", headers=at)).status_code == 200
    assert (await client.get(f"/v1/schools/{school.id}", headers=after)).status_code == 200
    # Revocation is per school: the same tokens still open the other school.
    assert (await client.get(f"/v1/schools/{other_school.id}", headers=before)).status_code == 200
    assert (await client.get(f"/v1/schools/{other_school.id}", headers=without_iat)).status_code == 200
