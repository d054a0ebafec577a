"""school tokens valid after (per-school token revocation)

Revision ID: 8c3d5e7f9a1b
Revises: 5b1f0d2c7a90
Create Date: 2026-11-29 23:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c3d5e7f9a1b"
down_revision: str | None = "5b1f0d2c7a90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("schools", sa.Column("tokens_valid_after", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("schools", "tokens_valid_after")
