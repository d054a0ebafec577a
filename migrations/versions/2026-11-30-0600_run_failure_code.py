"""sync_runs.failure_code: why a failed run failed, as a code; errors that may quote children's records scrubbed

A run's ``error`` is now a failure code's sentence and safe details (ids, counts, statuses, class names).
Until now it was the exception's text, which for a database error quotes the refused values and the
statement's parameters (children's names, UPNs), and teachers read it through the API. Existing failed
runs get the code their error's prefix stands for; where that error could hold such values (a database
error, or any exception not known to be safe), it is replaced by the code's sentence. The scrub is not
undone by the downgrade: the removed texts are gone.

The sentences and prefixes are copied here, as they stood: a migration must not change with the code.

Revision ID: 7d2b9e4c1f60
Revises: 7d1b5e3c9a40
Create Date: 2026-11-30 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d2b9e4c1f60"
down_revision: str | None = "7d1b5e3c9a40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Errors written by code that put only safe text in them (Wonde's errors, our own reasons), by prefix.
SAFE_PREFIXES = (
    ("WondeAuthError: ", "wonde_unauthorised"),
    ("WondeRetriesExhausted: ", "wonde_unavailable"),
    ("WondeTransientError: ", "wonde_unavailable"),
    ("WondeNotFound: ", "wonde_not_found"),
    ("WondeProtocolError: Wonde returned no students", "school_inactive"),
    ("WondeProtocolError: ", "read_inconsistent"),
    ("ReadNotPossible: the school is not connected", "not_connected"),
    ("ReadNotPossible: the school's Wonde approval waits", "awaiting_confirmation"),
    ("AwaitingConfirmation: ", "awaiting_confirmation"),
    ("UnresolvedIssues: ", "unresolved_issues"),
    ("The school is not syncing", "not_syncing"),
    ("the worker carrying out this read stopped", "read_interrupted"),
    ("recovery: ", "given_up"),
    ("its sync was given up on", "given_up"),
)
DATABASE_MARKS = ("[SQL:", "sqlalchemy", "asyncpg", "DBAPIError", "IntegrityError", "DataError", "OperationalError")
READ_FAILED = "the read failed, nothing was applied: "
SENTENCES = {
    "database_error": (
        "The app's database refused to save this run's changes, so nothing was changed; if it happens again, "
        "contact support."
    ),
    "internal_error": (
        "Something went wrong inside the app, so nothing was changed; if it happens again, contact support."
    ),
}


def classify(error: str) -> tuple[str, str]:
    """The code an old error stands for, and the error to keep: itself when safe, else the sentence."""
    if error.startswith(READ_FAILED):
        code, kept = classify(error.removeprefix(READ_FAILED))
        return code, READ_FAILED + kept
    for prefix, code in SAFE_PREFIXES:
        if error.startswith(prefix):
            return code, error
    code = "database_error" if any(mark in error for mark in DATABASE_MARKS) else "internal_error"
    return code, SENTENCES[code]


def upgrade() -> None:
    op.add_column("sync_runs", sa.Column("failure_code", sa.String(32), nullable=True))
    connection = op.get_bind()
    failed = connection.execute(
        sa.text("SELECT id, error FROM sync_runs WHERE status = 'failed' AND error IS NOT NULL")
    ).all()
    for run_id, error in failed:
        code, kept = classify(error)
        connection.execute(
            sa.text("UPDATE sync_runs SET failure_code = :code, error = :error WHERE id = :id"),
            {"code": code, "error": kept, "id": run_id},
        )


def downgrade() -> None:
    op.drop_column("sync_runs", "failure_code")
