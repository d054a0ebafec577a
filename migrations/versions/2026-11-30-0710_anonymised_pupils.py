"""pupils.anonymised_at, erased_students, and anonymise runs

An account is anonymised when its child left longer ago than the school's grace period, or was erased
on request: ``anonymised_at`` says when. ``erased_students`` keeps only the Wonde student id of each
child erased on request (and a keyed digest of their UPN, to know them again after an MIS migration).
Anonymising is a run of its own (``anonymise``), exclusive like a sync.

Revision ID: 3e8c1a7f5b22
Revises: c21cc86e6e39
Create Date: 2026-11-30 07:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3e8c1a7f5b22"
down_revision: str | None = "c21cc86e6e39"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('full_read', 'delta_read', 'merge', 'reconcile', 'disconnect', 'undo', 'ping')"
NEW_KINDS = "kind IN ('full_read', 'delta_read', 'merge', 'reconcile', 'disconnect', 'undo', 'ping', 'anonymise')"
OLD_ACTIVE = "status IN ('queued', 'running') AND kind IN ('merge', 'reconcile', 'disconnect', 'undo')"
NEW_ACTIVE = "status IN ('queued', 'running') AND kind IN ('merge', 'reconcile', 'disconnect', 'undo', 'anonymise')"


def _swap(kinds: str, active: str) -> None:
    op.drop_constraint(op.f("ck_sync_runs_kind"), "sync_runs", type_="check")
    op.create_check_constraint(op.f("ck_sync_runs_kind"), "sync_runs", kinds)
    op.drop_index("uq_sync_runs_one_active_mutation", table_name="sync_runs")
    op.create_index(
        "uq_sync_runs_one_active_mutation", "sync_runs", ["school_id"], unique=True, postgresql_where=sa.text(active)
    )


def upgrade() -> None:
    op.add_column("pupils", sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "erased_students",
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("wonde_id", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("upn_digest", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_erased_students_school_id_schools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("school_id", "wonde_id", name=op.f("pk_erased_students")),
    )
    _swap(NEW_KINDS, NEW_ACTIVE)


def downgrade() -> None:
    # Anonymised accounts stay anonymised (nothing to restore them from); their runs go.
    op.execute("DELETE FROM changes WHERE run_id IN (SELECT id FROM sync_runs WHERE kind = 'anonymise')")
    op.execute("DELETE FROM sync_runs WHERE kind = 'anonymise'")
    _swap(OLD_KINDS, OLD_ACTIVE)
    op.drop_table("erased_students")
    op.drop_column("pupils", "anonymised_at")
