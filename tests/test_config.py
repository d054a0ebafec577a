"""Settings refuse at start-up what would be unsafe to run with: outside development no placeholder,
short or trivially repeated secret, no development encryption key (not even in a rotation list) and
no development issuer; anywhere, no encryption key Fernet cannot use. A refusal never shows a secret."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError

from app.config import (
    DEV_ENCRYPTION_KEY,
    DEV_JWT_SECRET,
    DEV_LOGIN_URL,
    DEV_WEBHOOK_SECRET,
    JWTSettings,
    RetentionSettings,
    Settings,
    WondeSettings,
)

GOOD_KEY, OLD_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
GOOD_JWT_SECRET, GOOD_WEBHOOK_SECRET = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
LOGIN_URL = "app.example.org/login"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def production(
    *,
    encryption_key: str = GOOD_KEY,
    jwt_secret: str = GOOD_JWT_SECRET,
    issuer: str = "https://login.example.org",
    webhook_secret: str = GOOD_WEBHOOK_SECRET,
    **override: Any,
) -> Settings:
    return Settings(
        environment=override.pop("environment", "production"),
        encryption_key=SecretStr(encryption_key),
        jwt=JWTSettings(secret=SecretStr(jwt_secret), issuer=issuer),
        wonde=WondeSettings(webhook_secret=SecretStr(webhook_secret)),
        login_url=override.pop("login_url", LOGIN_URL),
        **override,
    )


def test_strong_settings_are_accepted_in_staging_and_production() -> None:
    for environment in ("staging", "production"):
        settings = production(environment=environment, encryption_key=f"{GOOD_KEY}, {OLD_KEY}")
        assert settings.environment == environment


def test_the_development_defaults_are_accepted_in_development_only() -> None:
    assert Settings(environment="development").encryption_key.get_secret_value() == DEV_ENCRYPTION_KEY
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production")


@pytest.mark.parametrize(
    "keys",
    [
        DEV_ENCRYPTION_KEY,
        f"{GOOD_KEY},{DEV_ENCRYPTION_KEY}",
        f"{DEV_ENCRYPTION_KEY},{GOOD_KEY}",
        f" {GOOD_KEY} , {DEV_ENCRYPTION_KEY} ",
        f"{GOOD_KEY},{DEV_ENCRYPTION_KEY.rstrip('=')}=",
    ],
    ids=["alone", "last", "first", "spaced", "same-key"],
)
def test_the_development_encryption_key_is_refused_outside_development_even_in_a_list(keys: str) -> None:
    with pytest.raises(ValidationError, match="BANDSYNC_ENCRYPTION_KEY") as refused:
        production(encryption_key=keys)
    assert "development" in str(refused.value)


@pytest.mark.parametrize("environment", ["development", "staging", "production"])
@pytest.mark.parametrize(
    ("keys", "position"),
    [
        ("not-a-fernet-key", 1),
        (_b64(b"k" * 31), 1),  # 31 bytes
        (base64.b64encode(bytes(range(200, 232))).decode(), 1),  # standard, not url-safe, base64
        (f"{GOOD_KEY},not-a-fernet-key", 2),
        (f"{GOOD_KEY},{OLD_KEY},{GOOD_KEY[:-2]}", 3),
        ("", 0),
        (" , ", 0),
    ],
    ids=["garbage", "short", "not-url-safe", "second", "truncated-third", "empty", "only-commas"],
)
def test_a_malformed_encryption_key_is_refused_at_start_up(environment: str, keys: str, position: int) -> None:
    with pytest.raises(ValidationError, match="BANDSYNC_ENCRYPTION_KEY") as refused:
        production(environment=environment, encryption_key=keys)
    message = str(refused.value)
    assert (f"key {position} " in message) if position else ("at least one" in message)
    if keys.strip(" ,"):
        assert keys.split(",")[position - 1] not in message


@pytest.mark.parametrize("environment", ["staging", "production"])
@pytest.mark.parametrize("algorithm", ["HS256", "RS256"])
def test_the_development_issuer_is_refused_outside_development(environment: str, algorithm: str) -> None:
    jwt = JWTSettings(algorithm=algorithm, secret=SecretStr(GOOD_JWT_SECRET), public_key="PEM", issuer="bandsync-dev")
    with pytest.raises(ValidationError, match="BANDSYNC_JWT__ISSUER"):
        Settings(
            environment=environment,
            encryption_key=SecretStr(GOOD_KEY),
            jwt=jwt,
            wonde=WondeSettings(webhook_secret=SecretStr(GOOD_WEBHOOK_SECRET)),
        )


@pytest.mark.parametrize(
    ("override", "name"),
    [
        pytest.param({"jwt_secret": "a" * 32}, "BANDSYNC_JWT__SECRET", id="jwt-a*32"),
        pytest.param({"jwt_secret": "a" * 200}, "BANDSYNC_JWT__SECRET", id="jwt-a*200"),
        pytest.param({"jwt_secret": "ab" * 20}, "BANDSYNC_JWT__SECRET", id="jwt-ab*20"),
        pytest.param({"jwt_secret": "0123456789" * 4}, "BANDSYNC_JWT__SECRET", id="jwt-digits*4"),
        pytest.param({"jwt_secret": "password" * 4}, "BANDSYNC_JWT__SECRET", id="jwt-password*4"),
        pytest.param({"jwt_secret": "a" * 31 + "b"}, "BANDSYNC_JWT__SECRET", id="jwt-two-characters"),
        pytest.param({"jwt_secret": GOOD_JWT_SECRET[:31]}, "BANDSYNC_JWT__SECRET", id="jwt-short"),
        pytest.param({"jwt_secret": DEV_JWT_SECRET}, "BANDSYNC_JWT__SECRET", id="jwt-placeholder"),
        pytest.param({"webhook_secret": "w" * 40}, "BANDSYNC_WONDE__WEBHOOK_SECRET", id="webhook-w*40"),
        pytest.param({"webhook_secret": "secret" * 8}, "BANDSYNC_WONDE__WEBHOOK_SECRET", id="webhook-secret*8"),
        pytest.param(
            {"webhook_secret": DEV_WEBHOOK_SECRET}, "BANDSYNC_WONDE__WEBHOOK_SECRET", id="webhook-placeholder"
        ),
        pytest.param({"encryption_key": _b64(b"a" * 32)}, "BANDSYNC_ENCRYPTION_KEY", id="key-a*32"),
        pytest.param(
            {"encryption_key": f"{GOOD_KEY},{_b64(b'0123' * 8)}"}, "BANDSYNC_ENCRYPTION_KEY", id="key-repeated-in-list"
        ),
    ],
)
def test_weak_secrets_are_refused_outside_development(override: dict[str, str], name: str) -> None:
    with pytest.raises(ValidationError, match=name) as refused:
        production(**override)
    for value in override.values():
        assert value not in str(refused.value)


@pytest.mark.parametrize(
    "environment",
    [
        {"BANDSYNC_WONDE__WEBHOOK_SECRET": "short-but-secret"},
        {"BANDSYNC_JWT__SECRET": "a" * 40, "BANDSYNC_WONDE__WEBHOOK_SECRET": "b" * 40},
        {"BANDSYNC_ENCRYPTION_KEY": f"{GOOD_KEY},nonsense-key"},
    ],
    ids=["short", "repeated", "malformed-key"],
)
def test_a_refusal_never_shows_a_secret(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    configured = {
        "BANDSYNC_ENVIRONMENT": "production",
        "BANDSYNC_ENCRYPTION_KEY": GOOD_KEY,
        "BANDSYNC_JWT__SECRET": GOOD_JWT_SECRET,
        "BANDSYNC_JWT__ISSUER": "https://login.example.org",
        "BANDSYNC_WONDE__WEBHOOK_SECRET": GOOD_WEBHOOK_SECRET,
        "BANDSYNC_LOGIN_URL": LOGIN_URL,
    } | environment
    for name, value in configured.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    # Neither the message nor the repr (what a start-up traceback or a log line shows) holds a secret.
    message = f"{refused.value} {refused.value!r}"
    for value in configured.values():
        for secret in value.split(","):
            assert secret not in message or secret in ("production", "https://login.example.org", LOGIN_URL)


def test_docs_are_served_in_development_only_unless_a_setting_says_otherwise() -> None:
    assert Settings(environment="development").docs_served
    assert not Settings(environment="development", api_docs=False).docs_served
    assert not production().docs_served
    assert not production(environment="staging").docs_served
    assert production(api_docs=True).docs_served


def test_the_login_address_printed_on_cards(monkeypatch: pytest.MonkeyPatch) -> None:
    """``BANDSYNC_LOGIN_URL``: a development default, refused elsewhere (cards would send children to it);
    something a child can type (ASCII, no spaces, short)."""
    assert Settings().login_url == DEV_LOGIN_URL
    monkeypatch.setenv("BANDSYNC_LOGIN_URL", "learn.example.org/login")
    assert Settings().login_url == "learn.example.org/login"
    with pytest.raises(ValidationError, match="BANDSYNC_LOGIN_URL is the development address"):
        production(login_url=DEV_LOGIN_URL)
    for unprintable in ("app.example.org/log in", "app.exämple.org", "x" * 101, ""):
        with pytest.raises(ValidationError, match="login_url"):
            production(login_url=unprintable)


def test_rs256_needs_a_public_key() -> None:
    with pytest.raises(ValueError, match="public_key is required"):
        JWTSettings(algorithm="RS256")


def test_retention_defaults_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """30 days for a disconnected school's MIS mirror, two years for the journal's values (README, "Data
    protection"); each set with ``BANDSYNC_RETENTION__...``."""
    assert Settings().retention == RetentionSettings(mirror_after_consent_days=30, journal_values_days=730)
    monkeypatch.setenv("BANDSYNC_RETENTION__MIRROR_AFTER_CONSENT_DAYS", "14")
    monkeypatch.setenv("BANDSYNC_RETENTION__JOURNAL_VALUES_DAYS", "365")
    assert Settings().retention == RetentionSettings(mirror_after_consent_days=14, journal_values_days=365)


@pytest.mark.parametrize(
    "setting",
    [
        {"mirror_after_consent_days": 0},  # "at once" would delete a mirror a school meant to keep
        {"mirror_after_consent_days": 366},
        {"journal_values_days": 89},  # undo and the timeline need the recent past
        {"journal_values_days": 3661},
    ],
)
def test_retention_periods_out_of_bounds_are_refused(setting: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        RetentionSettings(**setting)
