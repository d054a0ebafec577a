"""mis_record_issues: students excluded from what the app may see (code ``excluded``)

A full read that did not return a student whom Wonde neither deleted nor lists as a leaver, and cannot
find by id, records them as excluded: kept as they were, and listed for the admin.

Revision ID: 5a7e2c9d1b48
Revises: 3e8c1a7f5b22
Create Date: 2026-11-30 07:20:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5a7e2c9d1b48"
down_revision: str | None = "3e8c1a7f5b22"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _codes(codes: str) -> None:
    op.drop_constraint(op.f("ck_mis_record_issues_code"), "mis_record_issues", type_="check")
    op.create_check_constraint(op.f("ck_mis_record_issues_code"), "mis_record_issues", codes)


def upgrade() -> None:
    _codes("code IN ('quarantined', 'cleaned', 'excluded')")


def downgrade() -> None:
    op.execute("DELETE FROM mis_record_issues WHERE code = 'excluded'")
    _codes("code IN ('quarantined', 'cleaned')")
