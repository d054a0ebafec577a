"""One validated settings object, read from the environment (prefix ``BANDSYNC_``).

Secrets are ``SecretStr`` so they never appear in a repr or a log line, and a refused setting's error
never echoes the input. The development defaults let a newcomer run the service with no configuration
at all; outside development they are refused, as are short or trivially repeated secrets. Every
encryption key must be a Fernet key, in every environment, so a bad one fails at start-up rather than
on first use.
"""

from __future__ import annotations

from functools import lru_cache
from typing import AnyStr, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.kit.crypto import fernet_key_bytes, split_keys

# Placeholder secrets: fine on a developer's machine, refused anywhere else.
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789"
DEV_WEBHOOK_SECRET = "dev-only-webhook-secret-change-me"
# A valid Fernet key (32 url-safe base64 bytes) that everyone can read: development only.
DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktY2hhbmdlLW0="
DEV_JWT_ISSUER = "bandsync-dev"
# Where a local copy of the app's login page would be: printed on the login cards in development only.
DEV_LOGIN_URL = "http://localhost:3000/login"
MIN_SECRET_LENGTH = 32
# A secret (or a key's bytes) with fewer different characters than this is trivially repeated.
MIN_DISTINCT_CHARACTERS = 8
PLACEHOLDER_SECRETS = frozenset({DEV_JWT_SECRET, DEV_WEBHOOK_SECRET, DEV_ENCRYPTION_KEY, ""})


def trivially_repeated(value: AnyStr) -> bool:
    """Few different characters (``"a" * 32``), or one run repeated (``"password" * 4``)."""
    return len(set(value)) < MIN_DISTINCT_CHARACTERS or value in (value + value)[1:-1]


def _secret_problem(value: str) -> str | None:
    if value in PLACEHOLDER_SECRETS:
        return "is a development placeholder"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if trivially_repeated(value):
        return "is trivially repeated"
    return None


class JWTSettings(BaseModel):
    """How bearer tokens issued by the app's main login are verified."""

    model_config = ConfigDict(hide_input_in_errors=True)

    algorithm: Literal["HS256", "RS256"] = "HS256"
    secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    public_key: str | None = None
    issuer: str = DEV_JWT_ISSUER
    audience: str = "bandsync"
    leeway_seconds: int = Field(default=30, ge=0, le=300)
    # The longest a token may live: exp - iat (or exp - now, plus the leeway, without iat).
    max_lifetime_seconds: int = Field(default=12 * 3600, gt=0, le=30 * 24 * 3600)

    @model_validator(mode="after")
    def _key_for_algorithm(self) -> JWTSettings:
        if self.algorithm == "RS256" and not self.public_key:
            raise ValueError("jwt.public_key is required when jwt.algorithm is RS256")
        return self


class WondeSettings(BaseModel):
    """Where Wonde is, and the secret it must put in the webhook URL."""

    model_config = ConfigDict(hide_input_in_errors=True)

    base_url: str = "https://api.wonde.com/v1.0"
    webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    timeout_seconds: float = Field(default=20.0, gt=0)
    retry_attempts: int = Field(default=5, ge=1, le=20)
    retry_base_delay_seconds: float = Field(default=0.5, ge=0)
    max_retry_after_seconds: float = Field(default=120.0, ge=0)
    # A student a full read did not return is looked up (GET students/{id}) before anything is removed;
    # at most this many per read: the rest are kept as they were until a later read confirms them.
    missing_student_checks: int = Field(default=50, ge=0, le=1000)
    # The same webhook body again within this many seconds is a redelivery (stored and acted on once).
    redelivery_window_seconds: int = Field(default=600, ge=1, le=86_400)


class RetentionSettings(BaseModel):
    """How long children's data is kept once it is no longer needed (README, "Data protection"); the
    daily ``apply_retention`` job enforces both."""

    # The MIS mirror (names, years, UPNs, classes) of a school whose consent ended (disconnected, access
    # revoked or declined in Wonde, approval rejected) is deleted this many days later; a reconnection
    # within the window reuses it.
    mirror_after_consent_days: int = Field(default=30, ge=1, le=365)
    # The journal's before and after values (names, usernames, year groups) are redacted this many days
    # after they were written; the rows, actions, ids, statuses and actors stay.
    journal_values_days: int = Field(default=730, ge=90, le=3660)


class Settings(BaseSettings):
    """Every setting of the service; see the configuration table in README.md."""

    model_config = SettingsConfigDict(
        env_prefix="BANDSYNC_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        hide_input_in_errors=True,  # a refused setting's error must not echo the secrets beside it
    )

    environment: Literal["development", "staging", "production"] = "development"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/bandsync"
    redis_url: str = "redis://127.0.0.1:6379/0"
    queue_name: str = "bandsync:queue"
    encryption_key: SecretStr = SecretStr(DEV_ENCRYPTION_KEY)
    jwt: JWTSettings = JWTSettings()
    wonde: WondeSettings = WondeSettings()
    retention: RetentionSettings = RetentionSettings()
    # The app's login page, printed on every login card as written, for a child to type (so: short, no
    # spaces, ASCII). Its development default is refused outside development.
    login_url: str = Field(default=DEV_LOGIN_URL, min_length=4, max_length=100, pattern=r"^[!-~]+$")
    max_upload_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    log_level: str = "INFO"
    # The bearer token Prometheus sends to /metrics. Unset (or blank): /metrics answers in development
    # only, and 404 elsewhere.
    metrics_token: SecretStr | None = None

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _blank_metrics_token_is_unset(cls, value: object) -> object:
        if isinstance(value, str | SecretStr):
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not text.strip():
                return None
        return value

    @model_validator(mode="after")
    def _metrics_token_long_enough(self) -> Settings:
        token = self.metrics_token
        if (
            self.environment != "development"
            and token is not None
            and len(token.get_secret_value()) < MIN_SECRET_LENGTH
        ):
            raise ValueError(
                f"BANDSYNC_METRICS_TOKEN must be at least {MIN_SECRET_LENGTH} characters in {self.environment}"
            )
        return self

    # /docs, /redoc and /openapi.json: None serves them in development only.
    api_docs: bool | None = None

    @property
    def docs_served(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.environment == "development"

    @model_validator(mode="after")
    def _encryption_keys_are_fernet_keys(self) -> Settings:
        keys = split_keys(self.encryption_key.get_secret_value())
        if not keys:
            raise ValueError("BANDSYNC_ENCRYPTION_KEY: at least one Fernet key is required")
        for position, key in enumerate(keys, start=1):
            try:
                fernet_key_bytes(key)
            except ValueError as exc:
                raise ValueError(f"BANDSYNC_ENCRYPTION_KEY: key {position} (of {len(keys)}) is {exc}") from None
        return self

    @model_validator(mode="after")
    def _no_placeholders_outside_development(self) -> Settings:
        if self.environment == "development":
            return self
        secrets = {"BANDSYNC_WONDE__WEBHOOK_SECRET": self.wonde.webhook_secret}
        if self.jwt.algorithm == "HS256":
            secrets["BANDSYNC_JWT__SECRET"] = self.jwt.secret
        problems = [
            f"{name} {problem}"
            for name, value in secrets.items()
            if (problem := _secret_problem(value.get_secret_value())) is not None
        ]
        dev_key = fernet_key_bytes(DEV_ENCRYPTION_KEY)
        for position, key in enumerate(split_keys(self.encryption_key.get_secret_value()), start=1):
            raw = fernet_key_bytes(key)
            if raw == dev_key:
                problems.append(f"BANDSYNC_ENCRYPTION_KEY key {position} is the development key, which anyone can read")
            elif trivially_repeated(raw):
                problems.append(f"BANDSYNC_ENCRYPTION_KEY key {position} is trivially repeated")
        if self.jwt.issuer == DEV_JWT_ISSUER:
            problems.append(f"BANDSYNC_JWT__ISSUER is the development issuer {DEV_JWT_ISSUER!r}")
        if self.login_url == DEV_LOGIN_URL:
            problems.append(f"BANDSYNC_LOGIN_URL is the development address {DEV_LOGIN_URL!r}, printed on login cards")
        if problems:
            raise ValueError(
                f"placeholder, short (< {MIN_SECRET_LENGTH} characters) or trivially repeated secrets and the "
                f"development key, issuer and login address are refused in {self.environment}: {'; '.join(problems)}"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
