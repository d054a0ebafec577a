"""Why a run failed, as a code and one sentence for a school's admin: the one list of failure codes.

A run's error is read by teachers (``GET .../runs``), a failure is logged, and arq keeps what a job
raised in Redis. An exception's text is unsafe in all three: a database error quotes the values it
refused and the statement's parameters (children's names, UPNs), a validation error its input. So a
failure is recorded as a ``FailureCode``, its sentence, and at most a short detail made of ids, counts,
status codes and class names; and a job that fails unexpectedly raises ``JobFailed``, which holds the
code and the run's id only.

Exceptions of the sync that know their case carry it as a class attribute ``failure_code``, and may
carry a safe ``failure_detail`` (a count, an id) (this module imports nothing of the sync, which
imports it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from app.schools.service import AwaitingConfirmation, SchoolDisconnected, SchoolNotConnected
from app.wonde.errors import (
    NoStudentsReturned,
    WondeAuthError,
    WondeError,
    WondeNotFound,
    WondeProtocolError,
    WondeRetriesExhausted,
    WondeSchoolInactive,
    WondeTransientError,
)


class FailureCode(StrEnum):
    WONDE_UNAUTHORISED = "wonde_unauthorised"
    WONDE_UNAVAILABLE = "wonde_unavailable"
    WONDE_NOT_FOUND = "wonde_not_found"
    SCHOOL_INACTIVE = "school_inactive"
    READ_INCONSISTENT = "read_inconsistent"
    READ_INTERRUPTED = "read_interrupted"
    DATABASE_ERROR = "database_error"
    NOT_CONNECTED = "not_connected"
    DISCONNECTED = "disconnected"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    NOT_SYNCING = "not_syncing"
    UNRESOLVED_ISSUES = "unresolved_issues"
    GIVEN_UP = "given_up"
    INTERNAL_ERROR = "internal_error"


# One plain-English sentence per code, for a school's admin (README's "Failure codes" lists them).
SENTENCES: dict[FailureCode, str] = {
    FailureCode.WONDE_UNAUTHORISED: (
        "Wonde refused access to your school's data, so the school needs to approve the app in Wonde again."
    ),
    FailureCode.WONDE_UNAVAILABLE: (
        "Wonde did not answer properly, even after several tries, so nothing was changed and the next sync "
        "will try again."
    ),
    FailureCode.WONDE_NOT_FOUND: (
        "Wonde could not find your school's data; check that the school still shares its data with the app in Wonde."
    ),
    FailureCode.SCHOOL_INACTIVE: (
        "Wonde says your school is inactive, or returned no pupils for it, so nothing was changed; check in "
        "Wonde that the school is active and its MIS still shares its pupils."
    ),
    FailureCode.READ_INCONSISTENT: (
        "Wonde sent data that could not be trusted (a page that did not make sense), so nothing from this read "
        "was used."
    ),
    FailureCode.READ_INTERRUPTED: (
        "This read stopped before it finished (its worker was stopped or restarted), so it wrote nothing and "
        "the sync read the school again."
    ),
    FailureCode.DATABASE_ERROR: (
        "The app's database refused to save this run's changes, so nothing was changed; if it happens again, "
        "contact support."
    ),
    FailureCode.NOT_CONNECTED: "Your school is not connected to Wonde, so there is nothing to read yet.",
    FailureCode.DISCONNECTED: (
        "Your school was disconnected from Wonde, so nothing was read or changed; approve the app in Wonde again "
        "to connect it."
    ),
    FailureCode.AWAITING_CONFIRMATION: (
        "Your school's Wonde approval is waiting for the platform to confirm it is the right school, so nothing "
        "was read or changed."
    ),
    FailureCode.NOT_SYNCING: "Your school is not syncing yet, so there was nothing to sync; finish onboarding first.",
    FailureCode.UNRESOLVED_ISSUES: (
        "Some pupils still need a decision in the uploader, so the merge did not run; decide for them and merge again."
    ),
    FailureCode.GIVEN_UP: (
        "This run could not be finished (its job kept stopping, or it waited too long), so the app gave up on it "
        "to let your school's next sync run."
    ),
    FailureCode.INTERNAL_ERROR: (
        "Something went wrong inside the app, so nothing was changed; if it happens again, contact support."
    ),
}


@dataclass(frozen=True)
class Failure:
    """Why a run failed: its code, and a detail made of ids, counts, status codes and class names only."""

    code: FailureCode
    detail: str | None = None

    @property
    def text(self) -> str:
        """What the run's ``error`` says: the code's sentence, then the detail."""
        return f"{SENTENCES[self.code]} ({self.detail})" if self.detail else SENTENCES[self.code]


@dataclass(frozen=True)
class ReadFailed(Failure):
    """A sync whose read failed: the read's code, and the read's own (safe) text after what it meant."""

    read_text: str = ""

    @property
    def text(self) -> str:
        return f"The read failed, nothing was applied: {self.read_text}"


class JobFailed(Exception):
    """What a job raises when it failed unexpectedly, in place of the exception (raised ``from None``):
    arq logs it with its traceback and keeps it in Redis, so it holds the code and an id only.
    ``subject`` names what the id is ("run", or "webhook event" for that job)."""

    def __init__(self, code: FailureCode, run_id: uuid.UUID | str, subject: str = "run") -> None:
        # The arguments are all it holds: pickling (arq's result) keeps them, and rebuilds it from them.
        super().__init__(code, str(run_id), subject)
        self.failure_code, self.run_id, self.subject = code, str(run_id), subject

    def __str__(self) -> str:
        return f"{self.subject} {self.run_id} failed: {self.failure_code}"


def _database_detail(exc: SQLAlchemyError) -> str:
    """The class of a database error and its SQLSTATE: never its text, which quotes the values."""
    sqlstate = getattr(exc.orig, "sqlstate", None) if isinstance(exc, DBAPIError) else None
    return f"{type(exc).__name__}, SQLSTATE {sqlstate}" if isinstance(sqlstate, str) else type(exc).__name__


def _wonde_code(exc: WondeError) -> FailureCode:
    if isinstance(exc, WondeAuthError):
        return FailureCode.WONDE_UNAUTHORISED
    if isinstance(exc, WondeNotFound):
        return FailureCode.WONDE_NOT_FOUND
    if isinstance(exc, NoStudentsReturned):
        return FailureCode.SCHOOL_INACTIVE
    if isinstance(exc, WondeProtocolError):
        return FailureCode.READ_INCONSISTENT
    if isinstance(exc, WondeSchoolInactive) or (
        isinstance(exc, WondeRetriesExhausted) and isinstance(exc.last, WondeSchoolInactive)
    ):
        return FailureCode.SCHOOL_INACTIVE
    if isinstance(exc, WondeTransientError | WondeRetriesExhausted):
        return FailureCode.WONDE_UNAVAILABLE
    return FailureCode.INTERNAL_ERROR


def failure_of(exc: BaseException) -> Failure:
    """The failure an exception stands for, with a detail safe to show, log and keep."""
    if isinstance(code := getattr(exc, "failure_code", None), FailureCode):
        detail = getattr(exc, "failure_detail", None)
        return Failure(code, detail if isinstance(detail, str) else None)
    if isinstance(exc, NoStudentsReturned):
        return Failure(FailureCode.SCHOOL_INACTIVE)
    if isinstance(exc, WondeError):
        # Wonde's errors hold statuses, ids and field names only (``app.wonde.errors``).
        return Failure(_wonde_code(exc), str(exc))
    if isinstance(exc, SQLAlchemyError):
        return Failure(FailureCode.DATABASE_ERROR, _database_detail(exc))
    if isinstance(exc, AwaitingConfirmation):
        return Failure(FailureCode.AWAITING_CONFIRMATION)
    if isinstance(exc, SchoolDisconnected):
        return Failure(FailureCode.DISCONNECTED)
    if isinstance(exc, SchoolNotConnected):
        return Failure(FailureCode.NOT_CONNECTED)
    return Failure(FailureCode.INTERNAL_ERROR, type(exc).__name__)
