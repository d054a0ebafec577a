"""mis_record_issues: the MIS records a read set aside (quarantined) or changed on the way in (cleaned)

Ids and field names only. One bad record no longer stops a school's read: it is listed here, and
the mirror keeps what it had of it.

Revision ID: 7d1b5e3c9a40
Revises: 0c4e2a9d7b31
Create Date: 2026-11-30 05:15:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d1b5e3c9a40"
down_revision: str | None = "0c4e2a9d7b31"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mis_record_issues",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("record", sa.String(length=16), nullable=False),
        sa.Column("wonde_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("fields", sa.String(length=500), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("record IN ('student', 'class', 'group')", name=op.f("ck_mis_record_issues_record")),
        sa.CheckConstraint("code IN ('quarantined', 'cleaned')", name=op.f("ck_mis_record_issues_code")),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_mis_record_issues_school_id_schools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mis_record_issues")),
        sa.UniqueConstraint(
            "school_id", "record", "wonde_id", "code", name=op.f("uq_mis_record_issues_school_id_record_wonde_id_code")
        ),
    )


def downgrade() -> None:
    op.drop_table("mis_record_issues")
