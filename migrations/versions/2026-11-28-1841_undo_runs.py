"""undo runs

Revision ID: 5b1f0d2c7a90
Revises: e0786cb605c7
Create Date: 2026-11-28 18:41:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1f0d2c7a90"
down_revision: str | None = "e0786cb605c7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('full_read', 'delta_read', 'merge', 'reconcile', 'disconnect', 'ping')"
NEW_KINDS = "kind IN ('full_read', 'delta_read', 'merge', 'reconcile', 'disconnect', 'undo', 'ping')"
OLD_ACTIVE = "status IN ('queued', 'running') AND kind IN ('merge', 'reconcile', 'disconnect')"
NEW_ACTIVE = "status IN ('queued', 'running') AND kind IN ('merge', 'reconcile', 'disconnect', 'undo')"


def _swap(kinds: str, active: str) -> None:
    op.drop_constraint(op.f("ck_sync_runs_kind"), "sync_runs", type_="check")
    op.create_check_constraint(op.f("ck_sync_runs_kind"), "sync_runs", kinds)
    op.drop_index("uq_sync_runs_one_active_mutation", table_name="sync_runs")
    op.create_index(
        "uq_sync_runs_one_active_mutation", "sync_runs", ["school_id"], unique=True, postgresql_where=sa.text(active)
    )


def upgrade() -> None:
    _swap(NEW_KINDS, NEW_ACTIVE)


def downgrade() -> None:
    op.execute("DELETE FROM changes WHERE run_id IN (SELECT id FROM sync_runs WHERE kind = 'undo')")
    op.execute("DELETE FROM sync_runs WHERE kind = 'undo'")
    _swap(OLD_KINDS, OLD_ACTIVE)
