"""Passwords for new accounts: child-friendly, random, hashed for good, and readable in clear only
until the admin confirms the login details as handed out or 30 days pass.

A password is a short common word and three digits ("tiger482"): easy for a seven-year-old to type,
drawn with ``secrets``. The account keeps only an argon2 hash; the plaintext waits, encrypted, in
``credentials`` for the admin to hand out. Downloading it never clears it (a printer jams, a CSV goes to
the wrong folder: the admin downloads again, in any format); it is cleared when the admin confirms the
run's login details, when it expires, when the pupil gets a new password, or when the run that created
the accounts is undone. Every download, confirmation and new password is journalled with its actor
(``app/audit.py``), never with the password.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

from argon2 import PasswordHasher
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import AuditAction, AuditEntry, record_audit
from app.errors import Conflict
from app.kit.crypto import SecretBox
from app.kit.parallel import map_on_every_core
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
# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): about 20 ms a password of one
# core here, so a stolen hash stays expensive; ``issue`` spreads a school's worth over every core.
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


async def issue(
    school_id: str, run_id: uuid.UUID | None, pupil_ids: Sequence[uuid.UUID], box: SecretBox, now: datetime
) -> list[IssuedPassword]:
    """A fresh password for each pupil: its hash for the account, its ciphertext for the admin.

    Hashed on every core, off the event loop: a whole school is 2,000 passwords, 37 s or more of one core,
    which would stall a worker's other jobs and its health check if it ran on the loop."""
    passwords = [new_password() for _ in pupil_ids]
    sealed = await map_on_every_core(partial(_hash_and_encrypt, box), passwords)
    return [
        IssuedPassword(
            pupil_id,
            password_hash,
            {
                "id": uuid.uuid4(),
                "school_id": school_id,
                "run_id": run_id,
                "pupil_id": pupil_id,
                "password_encrypted": password_encrypted,
                "expires_at": now + KEEP_FOR,
            },
        )
        for pupil_id, (password_hash, password_encrypted) in zip(pupil_ids, sealed, strict=True)
    ]


def _hash_and_encrypt(box: SecretBox, password: str) -> tuple[str, bytes]:
    return hash_password(password), box.encrypt(password)


async def store(session: AsyncSession, issued: Sequence[IssuedPassword]) -> None:
    if issued:
        await session.execute(insert(Credential), [i.row for i in issued])


class LoginDetailsConfirmed(Conflict):
    """The admin confirmed these login details as handed out, and their passwords were cleared: reset a
    pupil's password, or reissue a band's passwords, for new ones."""


@dataclass(frozen=True)
class LoginDetails:
    pupil_id: uuid.UUID
    first_name: str
    last_name: str
    username: str
    password: str
    band: str | None = None  # the class the details are printed under (None: the pupil is in no band)


Format = Literal["csv", "json", "pdf"]


@dataclass(frozen=True)
class OneBand:
    """The band whose pupils a download or a reissue is about."""

    id: uuid.UUID
    name: str


async def download(
    session: AsyncSession,
    school_id: str,
    run_id: uuid.UUID,
    box: SecretBox,
    *,
    actor: str,
    format: Format,
    band: OneBand | None = None,
) -> list[LoginDetails]:
    """The run's login details still waiting (of ``band``'s pupils alone, when given), each with the class
    it is printed under. Reading never clears them. Their rows are read ``FOR SHARE``: a confirmation under
    way finishes first, and then this raises ``LoginDetailsConfirmed``, as it does for any run whose login
    details were confirmed; a confirmation that comes later waits until this transaction ends.

    Journalled as ``actor``'s, even when nothing was waiting: on the school's journal (the run, the
    format, the band and how many rows) and on the timeline of each pupil whose password was handed out."""
    now = utc_now()
    credentials = CredentialRepository(session, school_id)
    waiting = await credentials.waiting(run_id, now, band_id=band.id if band is not None else None)
    if not waiting and (confirmed := await credentials.confirmed_at(run_id)) is not None:
        raise LoginDetailsConfirmed(
            f"The login details of run {run_id} were confirmed as handed out at {confirmed.isoformat()}, and "
            "their passwords cleared: reset a pupil's password, or reissue a band's passwords, for new ones."
        )
    pupil_ids = [pupil.id for _, pupil in waiting]
    classes = dict.fromkeys(pupil_ids, band.name) if band is not None else await bands_of(session, school_id, pupil_ids)
    details = []
    for credential, pupil in waiting:
        assert credential.password_encrypted is not None
        password = box.decrypt(credential.password_encrypted)
        details.append(
            LoginDetails(pupil.id, pupil.first_name, pupil.last_name, pupil.username, password, classes.get(pupil.id))
        )
    action = AuditAction.DOWNLOAD_LOGIN_DETAILS
    handed_out = {"run_id": str(run_id), "format": format}
    about = handed_out | ({"band_id": str(band.id)} if band is not None else {})
    await record_audit(
        session,
        school_id,
        actor,
        [
            AuditEntry.school(action, school_id, after=about | {"rows": len(details)}),
            *(AuditEntry.pupil(action, d.pupil_id, after=handed_out) for d in details),
        ],
    )
    return details


@dataclass(frozen=True)
class Confirmation:
    confirmed: int  # how many passwords this confirmation cleared
    confirmed_at: datetime | None  # when the run's login details were confirmed (None: none ever were)


async def confirm(session: AsyncSession, school_id: str, run_id: uuid.UUID, *, actor: str) -> Confirmation:
    """The admin has handed out the run's login details: clear the passwords still waiting (their rows
    taken ``FOR UPDATE``, so no download reads them half-way), after which a download of the run is a
    ``LoginDetailsConfirmed``. Confirming again clears nothing and says when it was done. Journalled as
    ``actor``'s: on the school (the run and how many rows) and on the timeline of each pupil concerned."""
    now = utc_now()
    credentials = CredentialRepository(session, school_id)
    pupil_ids = await credentials.confirm(run_id, now)
    action, about = AuditAction.CONFIRM_LOGIN_DETAILS, {"run_id": str(run_id)}
    await record_audit(
        session,
        school_id,
        actor,
        [
            AuditEntry.school(action, school_id, after=about | {"rows": len(pupil_ids)}),
            *(AuditEntry.pupil(action, pupil_id, after=about) for pupil_id in pupil_ids),
        ],
    )
    return Confirmation(len(pupil_ids), now if pupil_ids else await credentials.confirmed_at(run_id))


async def count_waiting(session: AsyncSession, school_id: str, run_id: uuid.UUID) -> int:
    """How many of the run's login details can still be downloaded."""
    return await CredentialRepository(session, school_id).count_waiting(run_id, utc_now())


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
    await CredentialRepository(session, school_id).clear(pupil_ids=[pupil.id])
    await session.flush()
    await record_audit(session, school_id, actor, [AuditEntry.pupil(AuditAction.RESET_PASSWORD, pupil.id)])
    return password


async def reissue(
    session: AsyncSession,
    school_id: str,
    run_id: uuid.UUID,
    band: OneBand,
    pupil_ids: Sequence[uuid.UUID],
    box: SecretBox,
    *,
    actor: str,
) -> None:
    """New passwords for these pupils (a band's, by its admin's act), as ``reset_password`` gives one: each
    hash replaced (the old password stops working) and any login details still waiting for an old one
    cleared; the new ones wait as ``run_id``'s, to download and confirm like a merge's. Journalled as
    ``actor``'s, without a password: on the school (the band, the run, how many pupils) and on each
    pupil's timeline."""
    await CredentialRepository(session, school_id).clear(pupil_ids=pupil_ids)
    issued = await issue(school_id, run_id, pupil_ids, box, utc_now())  # hashed on every core, off the loop
    await PupilRepository(session, school_id).update_many(
        [{"id": i.pupil_id, "password_hash": i.password_hash} for i in issued]
    )
    await store(session, issued)
    action, about = AuditAction.REISSUE_BAND_PASSWORDS, {"band_id": str(band.id), "run_id": str(run_id)}
    await record_audit(
        session,
        school_id,
        actor,
        [
            AuditEntry.school(action, school_id, after=about | {"pupils": len(issued)}),
            *(AuditEntry.pupil(action, i.pupil_id, after=about) for i in issued),
        ],
    )


async def bands_of(session: AsyncSession, school_id: str, pupil_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """For printing: the (first, by name) band of each pupil."""
    found: dict[uuid.UUID, str] = {}
    for pupil_id, name in await PupilRepository(session, school_id).band_names(pupil_ids):
        found.setdefault(pupil_id, name)
    return found
