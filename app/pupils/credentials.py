"""Passwords for new accounts: child-friendly, random, hashed for good, and readable in clear only
until the admin downloads the login details or 30 days pass.

A password is a short common word and three digits ("tiger482"): easy for a seven-year-old to type,
drawn with ``secrets``. The account keeps only an argon2 hash; the plaintext waits, encrypted, in
``credentials`` for the admin to hand out, and is cleared when downloaded, expired, or when the run that
created the accounts is undone. Every download and every new password is journalled with its actor
(``app/audit.py``), never with the password.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import AuditAction, AuditEntry, record_audit
from app.kit.crypto import SecretBox
from app.kit.time import utc_now
from app.models import Credential, Pupil
from app.pupils.repository import CredentialRepository, PupilRepository, expire_credentials

KEEP_FOR = timedelta(days=30)
WORDS = (
    "apple", "badger", "banana", "beach", "bear", "berry", "bird", "boat", "bread", "bubble", "bunny", "button",
    "cake", "camel", "candle", "carrot", "castle", "cat", "cherry", "cloud", "comet", "cookie", "crab", "daisy",
    "dolphin", "dragon", "duck", "eagle", "feather", "fern", "fish", "flower", "forest", "fox", "frog", "garden",
    "giraffe", "grape", "hedge", "hippo", "honey", "island", "jelly", "kite", "koala", "lemon", "lion", "maple",
    "meadow", "melon", "monkey", "moon", "mouse", "oak", "ocean", "otter", "owl", "panda", "parrot", "peach",
    "pebble", "penguin", "pepper", "pirate", "planet", "pony", "puffin", "rabbit", "rainbow", "river", "robin",
    "rocket", "seal", "shell", "snail", "star", "storm", "sun", "tiger", "tulip", "turtle", "violin", "whale",
    "willow", "wolf", "zebra",
)  # fmt: skip
# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): about 20 ms a password here, so
# a school's worth of new accounts hashes in well under a minute, while a stolen hash stays expensive.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def new_password() -> str:
    return f"{secrets.choice(WORDS)}{secrets.randbelow(1000):03d}"


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except Exception:  # argon2 signals a mismatch by raising; any failure means "not this password"
        return False


@dataclass(frozen=True)
class IssuedPassword:
    pupil_id: uuid.UUID
    password_hash: str
    row: dict[str, object]  # the credentials row to insert


def issue(
    school_id: str, run_id: uuid.UUID | None, pupil_ids: Sequence[uuid.UUID], box: SecretBox, now: datetime
) -> list[IssuedPassword]:
    """A fresh password for each pupil: its hash for the account, its ciphertext for the admin."""
    issued = []
    for pupil_id in pupil_ids:
        password = new_password()
        row = {
            "id": uuid.uuid4(),
            "school_id": school_id,
            "run_id": run_id,
            "pupil_id": pupil_id,
            "password_encrypted": box.encrypt(password),
            "expires_at": now + KEEP_FOR,
        }
        issued.append(IssuedPassword(pupil_id, hash_password(password), row))
    return issued


async def store(session: AsyncSession, issued: Sequence[IssuedPassword]) -> None:
    if issued:
        await session.execute(insert(Credential), [i.row for i in issued])


@dataclass(frozen=True)
class LoginDetails:
    pupil_id: uuid.UUID
    first_name: str
    last_name: str
    username: str
    password: str


Format = Literal["csv", "json", "pdf"]


async def download(
    session: AsyncSession, school_id: str, run_id: uuid.UUID, box: SecretBox, *, actor: str, format: Format
) -> list[LoginDetails]:
    """The run's login details still waiting; handing them out clears the stored plaintext.

    Journalled as ``actor``'s, even when nothing was waiting: on the school's journal (the run, the
    format and how many rows) and on the timeline of each pupil whose password was handed out."""
    now = utc_now()
    await expire(session, now)
    credentials = CredentialRepository(session, school_id)
    details = []
    for credential, pupil in await credentials.waiting(run_id):
        assert credential.password_encrypted is not None
        details.append(
            LoginDetails(
                pupil.id, pupil.first_name, pupil.last_name, pupil.username, box.decrypt(credential.password_encrypted)
            )
        )
    await credentials.clear(run_id=run_id, downloaded_at=now)
    action = AuditAction.DOWNLOAD_LOGIN_DETAILS
    handed_out = {"run_id": str(run_id), "format": format}
    await record_audit(
        session,
        school_id,
        actor,
        [
            AuditEntry.school(action, school_id, after=handed_out | {"rows": len(details)}),
            *(AuditEntry.pupil(action, d.pupil_id, after=handed_out) for d in details),
        ],
    )
    return details


async def forget_waiting(session: AsyncSession, school_id: str, run_id: uuid.UUID) -> None:
    """Clear the passwords still waiting from a run (its accounts were archived by its undo): no one
    downloads the password of an account that was taken back."""
    await CredentialRepository(session, school_id).clear(run_id=run_id)


async def expire(session: AsyncSession, now: datetime) -> int:
    """Clear every plaintext past its 30 days, whichever school it belongs to."""
    return await expire_credentials(session, now)


async def reset_password(session: AsyncSession, school_id: str, pupil: Pupil, actor: str) -> str:
    """A new password for one account: the hash replaces the old one, any login details still waiting
    for the old password are cleared, the reset is journalled as ``actor``'s (without the password),
    and the new password is returned to be shown once."""
    password = new_password()
    pupil.password_hash = hash_password(password)
    await CredentialRepository(session, school_id).clear(pupil_id=pupil.id)
    await session.flush()
    await record_audit(session, school_id, actor, [AuditEntry.pupil(AuditAction.RESET_PASSWORD, pupil.id)])
    return password


async def bands_of(session: AsyncSession, school_id: str, pupil_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """For printing: the (first, by name) band of each pupil."""
    found: dict[uuid.UUID, str] = {}
    for pupil_id, name in await PupilRepository(session, school_id).band_names(pupil_ids):
        found.setdefault(pupil_id, name)
    return found
