"""schools.state_version: one number per school that every write to the school's state changes

A fresh value from one sequence (``school_state_versions``) is written into ``schools.state_version`` by
PostgreSQL itself: an AFTER ... FOR EACH STATEMENT trigger (with the statement's transition tables) on
each table that holds a school's state, one UPDATE of ``schools`` per statement and school it wrote; and
a BEFORE UPDATE row trigger on ``schools`` when any other column of the school's row changes (its
settings, its connection). A statement that writes no row changes nothing. Values are never reused (a
rolled-back write, or a school deleted and registered again, cannot bring an old version back), so a
cache keyed by the version never meets a different state. Which tables, and why the others are not,
is ``app/sync/state/version.py``; a new table of school state adds its three triggers with
``CREATE TRIGGER`` statements like the ones below.

Revision ID: 5b7e0c9d4a21
Revises: 8c41d7e2a5f3
Create Date: 2026-11-30 12:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b7e0c9d4a21"
down_revision: str | None = "8c41d7e2a5f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables of a school's state at this revision (app.sync.state.version.VERSIONED_TABLES).
STATE_TABLES = (
    "mis_students",
    "mis_classes",
    "mis_groups",
    "mis_memberships",
    "mis_record_issues",
    "bands",
    "band_memberships",
    "pupils",
    "uploader_decisions",
    "changes",
    "erased_students",
)


def upgrade() -> None:
    op.execute("CREATE SEQUENCE school_state_versions AS bigint")
    op.add_column(
        "schools",
        sa.Column(
            "state_version",
            sa.BigInteger(),
            server_default=sa.text("nextval('school_state_versions')"),
            nullable=False,
        ),
    )
    op.execute("ALTER SEQUENCE school_state_versions OWNED BY schools.state_version")
    op.execute(
        """
        CREATE FUNCTION bump_school_state_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                UPDATE schools SET state_version = nextval('school_state_versions')
                 WHERE id IN (SELECT school_id FROM new_rows);
            ELSIF TG_OP = 'UPDATE' THEN
                UPDATE schools SET state_version = nextval('school_state_versions')
                 WHERE id IN (SELECT school_id FROM new_rows UNION SELECT school_id FROM old_rows);
            ELSE
                UPDATE schools SET state_version = nextval('school_state_versions')
                 WHERE id IN (SELECT school_id FROM old_rows);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    # The journal's audit entries (no run: a download of login details, a confirmation, a hand edit whose
    # own rows are versioned anyway) are not state: they leave the version, and the school's row, alone,
    # so that a download never waits for (or deadlocks with) a merge or an undo holding that row.
    op.execute(
        """
        CREATE FUNCTION bump_school_state_version_for_runs() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                UPDATE schools SET state_version = nextval('school_state_versions')
                 WHERE id IN (SELECT school_id FROM new_rows WHERE run_id IS NOT NULL);
            ELSIF TG_OP = 'UPDATE' THEN
                UPDATE schools SET state_version = nextval('school_state_versions')
                 WHERE id IN (SELECT school_id FROM new_rows WHERE run_id IS NOT NULL
                              UNION SELECT school_id FROM old_rows WHERE run_id IS NOT NULL);
            ELSE
                UPDATE schools SET state_version = nextval('school_state_versions')
                 WHERE id IN (SELECT school_id FROM old_rows WHERE run_id IS NOT NULL);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    # On the school's own row: a change of any other column takes a new version in the same row
    # write (no second UPDATE, so no recursion); the triggers above change state_version alone.
    op.execute(
        """
        CREATE FUNCTION new_school_state_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.state_version := nextval('school_state_versions');
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER schools_state_version BEFORE UPDATE ON schools FOR EACH ROW
        WHEN (OLD.state_version = NEW.state_version AND OLD.* IS DISTINCT FROM NEW.*)
        EXECUTE FUNCTION new_school_state_version()
        """
    )
    for table in STATE_TABLES:
        for statement in _triggers(table):
            op.execute(statement)


def _triggers(table: str) -> list[str]:
    """One trigger per kind of write: a trigger with transition tables serves one event."""
    function = "bump_school_state_version_for_runs" if table == "changes" else "bump_school_state_version"
    bump = f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
    return [
        f"CREATE TRIGGER {table}_state_version_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows {bump}",
        f"CREATE TRIGGER {table}_state_version_update AFTER UPDATE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {bump}",
        f"CREATE TRIGGER {table}_state_version_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows {bump}",
    ]


def downgrade() -> None:
    for table in STATE_TABLES:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_state_version_{event} ON {table}")
    op.execute("DROP TRIGGER schools_state_version ON schools")
    op.execute("DROP FUNCTION new_school_state_version()")
    op.execute("DROP FUNCTION bump_school_state_version()")
    op.execute("DROP FUNCTION bump_school_state_version_for_runs()")
    op.drop_column("schools", "state_version")  # drops the sequence it owns
