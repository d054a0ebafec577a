"""The audit entries: what a person did to a school's records by hand (not what a run applied), journalled
in ``changes`` beside the runs' entries, with the actor (the token's subject) and no run.

Defined here, above the domains and below the sync, because the domains write them (a password reset, a
rename, a roster import, a download of login details) and may not import ``app.sync``; the journal
(``app.sync.journal.entries``) imports this vocabulary to show these entries, and never undoes them: an
audit entry says who did what, it is not a change a run can take back.

An entry keeps only what is needed to say what happened: for a rename the old and new names, for a
settings change the fields that changed, for a download the run, the format and the number of rows.
Never a password, a hash or a ciphertext: ``record_audit`` refuses any value under a key naming one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ChangeRow, ChangeStatus, Entity


class AuditAction(StrEnum):
    """Every audit action in the journal, as stored (stored rows are data: these strings never change).
    An erasure on request is not one of them: it is a run of its own (``anonymise``), with its actor."""

    RESET_PASSWORD = "reset_password"  # noqa: S105 (an action's name): a new password for one account
    RENAME_PUPIL_BY_HAND = "rename_pupil_by_hand"  # an admin changed a pupil's names (and maybe more)
    CHANGE_PUPIL_BY_HAND = "change_pupil_by_hand"  # ... or other fields only (year group, the app's id)
    CREATE_PUPIL_BY_HAND = "create_pupil_by_hand"
    IMPORT_ROSTER = "import_roster"  # the import itself (the school), and each pupil it created or changed
    CHANGE_SETTINGS = "change_settings"  # the school's settings, or (by the platform) its identity
    DOWNLOAD_LOGIN_DETAILS = "download_login_details"  # the school: run, format, band, rows; each pupil: run, format
    CONFIRM_LOGIN_DETAILS = "confirm_login_details"  # the school: run, rows; each pupil whose password it cleared
    REISSUE_BAND_PASSWORDS = "reissue_band_passwords"


Values = dict[str, Any] | None


@dataclass(frozen=True)
class AuditEntry:
    """One audit row to write: about a pupil (on their timeline) or about the school."""

    action: AuditAction
    entity: Entity
    entity_id: str
    pupil_id: uuid.UUID | None = None
    before: Values = None
    after: Values = None

    @classmethod
    def pupil(cls, action: AuditAction, pupil_id: uuid.UUID, before: Values = None, after: Values = None) -> AuditEntry:
        return cls(action, Entity.PUPIL, str(pupil_id), pupil_id, before, after)

    @classmethod
    def school(cls, action: AuditAction, school_id: str, before: Values = None, after: Values = None) -> AuditEntry:
        return cls(action, Entity.SCHOOL, school_id, None, before, after)


# Keys that would hold a secret; an audit entry names none of them, at any depth.
_SECRET_KEYS = ("password", "secret", "token")


def _stored(value: Any) -> Any:
    """``value`` as JSON keeps it (ids and decimals as text, times in ISO 8601), refusing secrets."""
    if isinstance(value, Mapping):
        for key in value:
            if any(word in str(key).lower() for word in _SECRET_KEYS):
                raise ValueError(f"an audit entry never holds a password or a secret (key {key!r})")
        return {str(key): _stored(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_stored(item) for item in value]
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


async def record_audit(session: AsyncSession, school_id: str, actor: str, entries: Sequence[AuditEntry]) -> None:
    """Journal what ``actor`` did, in one statement, in the caller's transaction (so an act that fails is
    not journalled, and one that succeeds always is). Raises ``ValueError`` without an actor, or for a
    value under a key naming a password or another secret."""
    if not actor:
        raise ValueError("an audit entry names its actor")
    if not entries:
        return
    rows = [
        {
            "school_id": school_id,
            "run_id": None,
            "actor": actor,
            "entity_type": e.entity.value,
            "entity_id": e.entity_id,
            "pupil_id": e.pupil_id,
            "action": e.action.value,
            "before": _stored(e.before),
            "after": _stored(e.after),
            "status": ChangeStatus.APPLIED.value,
        }
        for e in entries
    ]
    await session.execute(insert(ChangeRow), rows)
