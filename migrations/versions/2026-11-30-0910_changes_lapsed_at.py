"""changes.lapsed_at: when a sync stopped taking an undone or rejected change as the admin's word

An undo's reverted changes are held at the next sync, and a change rejected after an undo is left out
while the MIS still asks for it (``app.sync.core.undone``). A row carries that word until ``lapsed_at``.
Rows undone or rejected before this revision never carried it: they are marked lapsed here, so the first
sync after the upgrade holds nothing an old undo reverted.

Revision ID: 8c41d7e2a5f3
Revises: 3fc905e6e3f5
Create Date: 2026-12-01 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c41d7e2a5f3"
down_revision: str | None = "3fc905e6e3f5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("changes", sa.Column("lapsed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE changes SET lapsed_at = now() WHERE status IN ('undone', 'rejected')")
    op.create_index(
        "ix_changes_remembered",
        "changes",
        ["school_id"],
        postgresql_where=sa.text("lapsed_at IS NULL AND status IN ('undone', 'rejected')"),
    )


def downgrade() -> None:
    op.drop_index("ix_changes_remembered", table_name="changes")
    op.drop_column("changes", "lapsed_at")
