"""webhook events: one body may be stored more than once (dedupe within a window, in the intake)

Wonde's bodies carry no time, so a unique hash of the body lost consent given or withdrawn again (a
second identical ``accessRevoked``) and an approval redelivered after the school was registered. The
hash stays (same value, same meaning: the sha256 of the body, so rows stored before still recognise
their redeliveries) without its unique constraint, indexed with the time for the window's look-up.

Revision ID: 53dede26ed72
Revises: 8c3d5e7f9a1b
Create Date: 2026-11-29 23:30:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "53dede26ed72"
down_revision: str | None = "8c3d5e7f9a1b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("uq_webhook_events_dedupe_key"), "webhook_events", type_="unique")
    op.create_index(
        op.f("ix_webhook_events_dedupe_key_created_at"), "webhook_events", ["dedupe_key", "created_at"], unique=False
    )


def downgrade() -> None:
    # Keep every event: the later copies of a body get a key of their own (the hash of key and id).
    op.execute(
        """
        UPDATE webhook_events AS e
        SET dedupe_key = encode(sha256(convert_to(e.dedupe_key || ':' || e.id::text, 'UTF8')), 'hex')
        FROM (
            SELECT id, row_number() OVER (PARTITION BY dedupe_key ORDER BY created_at, id) AS n
            FROM webhook_events
        ) AS ranked
        WHERE ranked.id = e.id AND ranked.n > 1
        """
    )
    op.drop_index(op.f("ix_webhook_events_dedupe_key_created_at"), table_name="webhook_events")
    op.create_unique_constraint(op.f("uq_webhook_events_dedupe_key"), "webhook_events", ["dedupe_key"])
