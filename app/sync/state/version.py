"""The state version: one number per school (``schools.state_version``) that changes whenever the school's
state is written, so that anything computed from that state (the uploader's view, issues and preview
today) can be kept under it and is never served once the state has moved on.

**Who changes it: PostgreSQL, not our code.** Migration ``5b7e0c9d4a21`` puts three statement-level
triggers (after insert, update, delete, with the statement's transition tables) on every table in
``VERSIONED_TABLES``; each writes one new version per school the statement touched. A change to any other
column of the school's own row (its settings, its connection, its read times) takes a new version in
that same row write (a BEFORE UPDATE row trigger). So a write made by a service, a job, a migration or
by hand at a ``psql`` prompt all count, and a statement that writes no row counts for nothing (a Wonde
read that finds nothing new leaves the version alone). TRUNCATE is not covered: nothing truncates
these tables.

**The values** come from one sequence, ``school_state_versions``: never reused (not after a rolled-back
write, nor for a school deleted and registered again), and the version rows of one school are written
one transaction at a time (each write holds the school's row until it commits), so two snapshots that
read the same version saw the same committed state. Read the version *before* the state it keys
(``repository.state_version``): what is then computed is at least that new, never older.

**The cost**: each write to a school's state also updates its ``schools`` row, so two transactions
writing the same school's state wait for each other from their first such write to their commit.
Runs that change a school's state already take the school's advisory lock, so this is no new wait for
them; the tables in ``UNVERSIONED_TABLES`` are left out because they are written beside such work, not
as part of it.

**A new table** with a ``school_id`` column belongs in one of the two dicts below;
``tests/sync/state/test_version.py`` walks every such table in the database and fails for one that is
in neither, or that is versioned but does not change the version when written.
"""

from __future__ import annotations

# Every table of a school's state: a write to any of them gives the school a new version.
VERSIONED_TABLES: dict[str, str] = {
    "mis_students": "the MIS mirror",
    "mis_classes": "the MIS mirror",
    "mis_groups": "the MIS mirror",
    "mis_memberships": "the MIS mirror",
    "mis_record_issues": "the MIS records quarantined by the last read",
    "bands": "the app's bands, their links",
    "band_memberships": "who is in each band",
    "pupils": "the app's accounts, their links",
    "uploader_decisions": "the admin's decisions in the uploader",
    # Only the rows of a run: an audit entry (no run) is not state (see the migration).
    "changes": "the journal: remembered links, undone and held changes the next sync honours",
    "erased_students": "children erased on request",
}

# Tables with a ``school_id`` that are not the school's state, and why.
UNVERSIONED_TABLES: dict[str, str] = {
    "sync_runs": (
        "run bookkeeping (status, progress, counts), written often and in transactions of its own; "
        "nothing computed from the school's state reads it, so versioning it would only add waits on "
        "the school's row"
    ),
    "webhook_events": "the intake of Wonde's webhooks: what they change is written when they are acted on",
    "credentials": (
        "login details waiting to be handed out: no screen computed from the state shows them, and a "
        "download or a confirmation takes their rows first; bumping the school's row after that would "
        "lock in the opposite order to an undo or a merge, which take the school's row and then the rows"
    ),
}
