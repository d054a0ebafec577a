"""Failure codes: one closed list, a sentence for each, and the classification of every exception family
a run can fail with; what is recorded, logged or kept holds ids, counts and class names, never a value."""

from __future__ import annotations

import pickle
import uuid
from pathlib import Path

import pytest
from sqlalchemy.exc import DataError, IntegrityError, NoResultFound

from app.models.sync_run import RunKind, RunTrigger
from app.schools.service import AwaitingConfirmation, SchoolDisconnected, SchoolNotConnected
from app.sync.mirror.flow import ReadNotPossible
from app.sync.onboarding.service import UnresolvedIssues
from app.sync.reconcile.service import NotSyncing
from app.sync.runs import service as runs
from app.sync.runs.failures import SENTENCES, Failure, FailureCode, JobFailed, ReadFailed, failure_of
from app.wonde.errors import (
    NoStudentsReturned,
    WondeAuthError,
    WondeNotFound,
    WondeProtocolError,
    WondeRetriesExhausted,
    WondeTransientError,
)

ROOT = Path(__file__).resolve().parents[3]
# What a refused statement carries: a child's names and UPN, in the parameters and in the database's message.
CHILD = ("Amelia", "Hartley", "H801200001236")


class _AsyncpgLike(Exception):
    """The driver's exception as SQLAlchemy wraps it: its message quotes the row; ``sqlstate`` is safe."""

    sqlstate = "23514"


def _refused(kind: type[IntegrityError] | type[DataError]) -> IntegrityError | DataError:
    row = ", ".join(CHILD)
    return kind(
        "INSERT INTO mis_students (forename, surname, upn) VALUES ($1, $2, $3)",
        CHILD,
        _AsyncpgLike(f"new row violates check constraint; Failing row contains ({row})"),
    )


def test_the_list_of_codes_is_closed() -> None:
    assert [code.value for code in FailureCode] == [
        "wonde_unauthorised",
        "wonde_unavailable",
        "wonde_not_found",
        "school_inactive",
        "read_inconsistent",
        "read_interrupted",
        "database_error",
        "not_connected",
        "disconnected",
        "awaiting_confirmation",
        "not_syncing",
        "unresolved_issues",
        "given_up",
        "internal_error",
    ]
    assert max(len(code) for code in FailureCode) <= 32  # sync_runs.failure_code is String(32)


def test_every_code_has_one_plain_sentence_for_the_admin() -> None:
    assert set(SENTENCES) == set(FailureCode)
    sentences = list(SENTENCES.values())
    assert len(set(sentences)) == len(sentences)
    for sentence in sentences:
        assert sentence[0].isupper() and sentence.endswith("."), sentence
        assert sentence.count(". ") == 0, f"more than one sentence: {sentence}"
        assert "Error" not in sentence and "_" not in sentence, f"not plain English: {sentence}"


def test_the_readme_lists_every_code_and_its_sentence() -> None:
    readme = (ROOT / "README.md").read_text()
    for code in FailureCode:
        assert f"| `{code.value}` |" in readme and SENTENCES[code] in readme, code


@pytest.mark.parametrize(
    ("exc", "code", "detail"),
    [
        (
            WondeAuthError("access refused (401): the school's Wonde connection is broken"),
            FailureCode.WONDE_UNAUTHORISED,
            "access refused (401): the school's Wonde connection is broken",
        ),
        (WondeTransientError("server error (503)"), FailureCode.WONDE_UNAVAILABLE, "server error (503)"),
        (
            WondeRetriesExhausted(5, WondeTransientError("server error (503)")),
            FailureCode.WONDE_UNAVAILABLE,
            "gave up after 5 attempts: server error (503)",
        ),
        (WondeNotFound("not found (404)"), FailureCode.WONDE_NOT_FOUND, "not found (404)"),
        (NoStudentsReturned("Wonde returned no students"), FailureCode.SCHOOL_INACTIVE, None),
        (
            WondeProtocolError("students page 2 item 1 cannot be read (fields: id)"),
            FailureCode.READ_INCONSISTENT,
            "students page 2 item 1 cannot be read (fields: id)",
        ),
        (_refused(IntegrityError), FailureCode.DATABASE_ERROR, "IntegrityError, SQLSTATE 23514"),
        (_refused(DataError), FailureCode.DATABASE_ERROR, "DataError, SQLSTATE 23514"),
        (NoResultFound(f"no row for {CHILD[0]}"), FailureCode.DATABASE_ERROR, "NoResultFound"),
        (ReadNotPossible(FailureCode.NOT_CONNECTED, "not connected"), FailureCode.NOT_CONNECTED, None),
        (
            ReadNotPossible(FailureCode.AWAITING_CONFIRMATION, "waits for the platform"),
            FailureCode.AWAITING_CONFIRMATION,
            None,
        ),
        (AwaitingConfirmation(), FailureCode.AWAITING_CONFIRMATION, None),
        (SchoolDisconnected(), FailureCode.DISCONNECTED, None),
        (SchoolNotConnected(), FailureCode.NOT_CONNECTED, None),
        (NotSyncing(), FailureCode.NOT_SYNCING, None),
        (UnresolvedIssues("3 pupil(s) need a decision first."), FailureCode.UNRESOLVED_ISSUES, None),
        (JobFailed(FailureCode.DATABASE_ERROR, uuid.uuid4()), FailureCode.DATABASE_ERROR, None),
        (ValueError(f"{CHILD[0]} {CHILD[1]}"), FailureCode.INTERNAL_ERROR, "ValueError"),
        (KeyError(CHILD[2]), FailureCode.INTERNAL_ERROR, "KeyError"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_each_exception_family_has_its_code(exc: BaseException, code: FailureCode, detail: str | None) -> None:
    failure = failure_of(exc)
    assert failure == Failure(code, detail)
    assert [value for value in CHILD if value in failure.text] == []


def test_a_failure_says_its_sentence_then_its_detail() -> None:
    assert Failure(FailureCode.GIVEN_UP).text == SENTENCES[FailureCode.GIVEN_UP]
    assert Failure(FailureCode.WONDE_UNAVAILABLE, "server error (503)").text == (
        f"{SENTENCES[FailureCode.WONDE_UNAVAILABLE]} (server error (503))"
    )
    read = Failure(FailureCode.WONDE_UNAUTHORISED, "access refused (401)")
    sync = ReadFailed(read.code, read_text=read.text)
    assert sync.code == FailureCode.WONDE_UNAUTHORISED
    assert sync.text == f"The read failed, nothing was applied: {read.text}"


def test_a_failed_job_holds_its_code_and_run_only_and_survives_pickling() -> None:
    run_id = uuid.uuid4()
    failed = JobFailed(FailureCode.DATABASE_ERROR, run_id)
    assert str(failed) == f"run {run_id} failed: database_error"
    assert failed.args == (FailureCode.DATABASE_ERROR, str(run_id), "run")
    # arq keeps a failed job's exception, pickled, in Redis (these are the test's own bytes).
    back = pickle.loads(pickle.dumps(failed))  # noqa: S301
    assert (type(back), str(back), back.failure_code) == (JobFailed, str(failed), FailureCode.DATABASE_ERROR)
    event = JobFailed(FailureCode.INTERNAL_ERROR, "e-1", "webhook event")
    assert str(pickle.loads(pickle.dumps(event))) == "webhook event e-1 failed: internal_error"  # noqa: S301


def test_failing_a_run_records_the_code_and_its_text_and_starting_it_again_clears_both() -> None:
    run = runs.new_run("s1", RunKind.FULL_READ, RunTrigger.MANUAL, None)
    runs.start(run)
    runs.fail(run, Failure(FailureCode.READ_INCONSISTENT, "x" * 3000))
    assert (run.status, run.failure_code) == ("failed", "read_inconsistent")
    assert run.error is not None
    assert len(run.error) == runs.MAX_ERROR
    assert run.error.startswith(SENTENCES[FailureCode.READ_INCONSISTENT])
    again = run  # (a name mypy has not narrowed)
    runs.start(again)
    assert (again.status, again.error, again.failure_code) == ("running", None, None)
