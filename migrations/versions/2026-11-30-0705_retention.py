"""retention: schools.consent_ended_at (the MIS mirror is purged after it) and changes.redacted_at

``consent_ended_at`` is when a school's consent to share its MIS data ended (disconnect, access revoked
or declined in Wonde, approval rejected). A school already disconnected gets the time of its last
disconnect run (or now, if it has none), so its mirror is purged once the retention period has run
from then. ``redacted_at`` marks journal rows whose values the retention job has redacted; the partial
index is what that job walks, oldest first.

Revision ID: c21cc86e6e39
Revises: 8e3a6c1f5b20
Create Date: 2026-11-30 07:05:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c21cc86e6e39"
down_revision: str | None = "8e3a6c1f5b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("schools", sa.Column("consent_ended_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        """
        UPDATE schools SET consent_ended_at = coalesce(
            (SELECT max(coalesce(r.finished_at, r.created_at)) FROM sync_runs r
              WHERE r.school_id = schools.id AND r.kind = 'disconnect' AND r.status = 'succeeded'),
            now())
        WHERE state = 'disconnected'
        """
    )
    op.add_column("changes", sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_changes_unredacted", "changes", ["created_at"], unique=False, postgresql_where=sa.text("redacted_at IS NULL")
    )


def downgrade() -> None:
    op.drop_index("ix_changes_unredacted", table_name="changes", postgresql_where=sa.text("redacted_at IS NULL"))
    op.drop_column("changes", "redacted_at")
    op.drop_column("schools", "consent_ended_at")
