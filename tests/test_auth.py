"""Token verification: only tokens signed with the configured key and algorithm, for our issuer and
audience, unexpired, with the claims we need, make a principal."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth import decode_token, mint_token
from app.config import JWTSettings, Settings
from app.errors import NotAuthenticated
from app.kit.time import utc_now


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
