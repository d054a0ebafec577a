"""credentials.confirmed_at (was downloaded_at), and new_passwords runs

Login details are no longer cleared by a download: they wait until the admin confirms them (or they
expire), and ``confirmed_at`` says when. A row cleared by a download before this revision was cleared by
an admin's act in the same way, so ``downloaded_at`` becomes ``confirmed_at`` as it is. A run of kind
``new_passwords`` holds the login details of a band's passwords reissued by an admin.

Revision ID: 3fc905e6e3f5
Revises: 5a7e2c9d1b48
Create Date: 2026-12-01 09:05:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3fc905e6e3f5"
down_revision: str | None = "5a7e2c9d1b48"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('full_read', 'delta_read', 'merge', 'reconcile', 'disconnect', 'undo', 'ping', 'anonymise')"
NEW_KINDS = (
    "kind IN ('full_read', 'delta_read', 'merge', 'reconcile', 'disconnect', 'undo', 'ping', 'anonymise', "
    "'new_passwords')"
)


def _kinds(kinds: str) -> None:
    op.drop_constraint(op.f("ck_sync_runs_kind"), "sync_runs", type_="check")
    op.create_check_constraint(op.f("ck_sync_runs_kind"), "sync_runs", kinds)


def upgrade() -> None:
    op.alter_column("credentials", "downloaded_at", new_column_name="confirmed_at")
    _kinds(NEW_KINDS)


def downgrade() -> None:
    # The reissued passwords go with their runs; the accounts keep their (new) hashes.
    op.execute("DELETE FROM credentials WHERE run_id IN (SELECT id FROM sync_runs WHERE kind = 'new_passwords')")
    op.execute("DELETE FROM sync_runs WHERE kind = 'new_passwords'")
    _kinds(OLD_KINDS)
    op.alter_column("credentials", "confirmed_at", new_column_name="downloaded_at")
