"""schools: the DfE URN they were registered with, and an approval waiting for the platform's confirmation

A school is registered with its URN (LA code and establishment number optional). Wonde's approval is
acted on only when Wonde's school has the same URN; otherwise the school is ``needs_confirmation``,
with the URN Wonde gave kept in ``wonde_urn`` for the platform to compare. Schools registered before
have no URN: their next approval waits for the platform.

Revision ID: 0c4e2a9d7b31
Revises: 53dede26ed72
Create Date: 2026-11-30 01:45:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0c4e2a9d7b31"
down_revision: str | None = "53dede26ed72"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "state IN ('pending', 'approved', 'syncing', 'disconnected')"
NEW_STATES = "state IN ('pending', 'needs_confirmation', 'approved', 'syncing', 'disconnected')"
COLUMNS = {"urn": 8, "la_code": 3, "establishment_number": 4, "wonde_urn": 8}


def _states(states: str) -> None:
    op.drop_constraint(op.f("ck_schools_state"), "schools", type_="check")
    op.create_check_constraint(op.f("ck_schools_state"), "schools", states)


def upgrade() -> None:
    for name, length in COLUMNS.items():
        op.add_column("schools", sa.Column(name, sa.String(length), nullable=True))
    op.alter_column("schools", "state", type_=sa.String(32), existing_type=sa.String(16), existing_nullable=False)
    _states(NEW_STATES)


def downgrade() -> None:
    # A school waiting for confirmation goes back to waiting for Wonde: nothing of it was read.
    op.execute("UPDATE schools SET state = 'pending' WHERE state = 'needs_confirmation'")
    _states(OLD_STATES)
    op.alter_column("schools", "state", type_=sa.String(16), existing_type=sa.String(32), existing_nullable=False)
    for name in reversed(COLUMNS):
        op.drop_column("schools", name)
