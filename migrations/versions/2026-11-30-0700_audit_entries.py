"""changes.run_id nullable: audit entries, acts of a person outside any run, in the journal

A password reset, a rename or creation by hand, a roster import, a settings change and every download of
login details are journalled (``app/audit.py``) with their actor and no run. Such an entry is always
applied and always names its actor (``ck_changes_audit_entry``); rows with a run are as they were.

The downgrade deletes the audit entries (the column cannot hold them without a run): the record of who
did what by hand is lost, so downgrade only a database whose audit log is not needed.

Revision ID: 8e3a6c1f5b20
Revises: 7d2b9e4c1f60
Create Date: 2026-11-30 07:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8e3a6c1f5b20"
down_revision: str | None = "7d2b9e4c1f60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("changes", "run_id", existing_type=sa.UUID(), nullable=True)
    op.create_check_constraint(
        op.f("ck_changes_audit_entry"), "changes", "run_id IS NOT NULL OR (actor IS NOT NULL AND status = 'applied')"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_changes_audit_entry"), "changes", type_="check")
    op.execute("DELETE FROM changes WHERE run_id IS NULL")
    op.alter_column("changes", "run_id", existing_type=sa.UUID(), nullable=False)
