"""Reading a school from Wonde into its MIS mirror: the shell around ``MisRead`` and the mirror.

A read runs in three steps, each its own transaction or none:
1. mark the run ``running`` (so progress is visible) and decide full or delta;
2. read every page from Wonde with no transaction open; any failure stops here, nothing written
   (but the run's ``progress``, counts only, is updated in short transactions of its own);
3. write the whole read in one transaction under the school's lock, and mark the run done.
A failure anywhere records the run as failed with its failure code (``app.sync.runs.failures``), and
leaves the mirror as it was. An unexpected one (the database refusing a value) then ends the job with
``JobFailed``, which holds the code and the run's id: never the exception's text, which may quote a
child's record.

A **full read** is the only read that removes: rows it did not return are soft-deleted, and only
when every page was read and students came back. A **delta read** asks for what changed since the
last successful read (minus a safety margin) plus Wonde's deletions, and only touches the
memberships of the students it read (their includes are complete lists; the school's are not).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.crypto import SecretBox
from app.kit.locking import ROW_FOR_CHANGE, lock_school
from app.kit.log_context import log_context
from app.kit.time import utc_now
from app.kit.unit_of_work import unit_of_work
from app.models import School, SyncRun
from app.models.school import SchoolState
from app.models.sync_run import FINISHED_RUN_STATUSES, RunKind
from app.sync.erasure.digests import upn_digest
from app.sync.mirror.missing import Missing, confirm_missing
from app.sync.mirror.quality.codes import IssueCode, Record
from app.sync.mirror.read import MisRead, RecordIssue
from app.sync.mirror.repository import MirrorCounts, MirrorRepository
from app.sync.mirror.service import delta_since
from app.sync.runs import service as runs
from app.sync.runs.failures import Failure, FailureCode, JobFailed, failure_of
from app.wonde.client import SchoolClient, WondeClient
from app.wonde.errors import NoStudentsReturned, WondeError, WondeProtocolError

logger = logging.getLogger(__name__)

# A read that adds this many rows (a school's first) refreshes planner statistics before the joins.
ANALYZE_AFTER_INSERTS = 200
# Progress is written after a page at most this often (seconds), so its statements do not grow with a
# school's size; the phases ("reading", "writing", "done") are always written.
PROGRESS_EVERY_SECONDS = 2.0


class ReadNotPossible(Exception):
    """The school cannot be read (not connected); recorded on the run with its code, not retried."""

    def __init__(self, code: FailureCode, reason: str) -> None:
        super().__init__(reason)
        self.failure_code = code


@dataclass(frozen=True)
class ReadPlan:
    school_id: str
    kind: RunKind
    since: datetime | None
    client: SchoolClient


class ReadProgress:
    """The run's ``progress`` while it reads: pages and students so far, never names.

    Each write is one UPDATE in its own short transaction, so the API shows it while the read goes on;
    page updates are throttled to one per ``PROGRESS_EVERY_SECONDS``.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        run_id: uuid.UUID,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.run_id = run_id
        self.clock = clock
        self.written_at = clock()
        self.pages = 0
        self.students = 0

    def state(self, phase: str) -> dict[str, Any]:
        return {"phase": phase, "pages": self.pages, "students": self.students}

    async def page(self, pages: int, students: int) -> None:
        """A page arrived; written when the last write is old enough."""
        self.pages, self.students = pages, students
        if self.clock() - self.written_at >= PROGRESS_EVERY_SECONDS:
            await self.write("reading")

    async def write(self, phase: str) -> None:
        async with unit_of_work(self.sessionmaker, None) as session:
            await session.execute(update(SyncRun).where(SyncRun.id == self.run_id).values(progress=self.state(phase)))
        self.written_at = self.clock()


async def _begin(session: AsyncSession, run_id: uuid.UUID, wonde: WondeClient, box: SecretBox) -> ReadPlan | None:
    """Mark the run running and plan the read; None when the run already finished (a redelivered job)."""
    run = await session.get(SyncRun, run_id, with_for_update=True)
    if run is None:
        raise ReadNotPossible(FailureCode.INTERNAL_ERROR, f"run {run_id} does not exist")
    if run.status in FINISHED_RUN_STATUSES:
        return None
    school = await session.get(School, run.school_id)
    assert school is not None  # runs are deleted with their school
    runs.start(run)
    run.progress = {"phase": "reading", "pages": 0, "students": 0}
    # A disconnected school keeps its token until Wonde has revoked it (a job of its own): its consent
    # has ended all the same, so a read queued before the disconnect reads nothing.
    if school.state == SchoolState.DISCONNECTED:
        raise ReadNotPossible(FailureCode.DISCONNECTED, "the school is disconnected from Wonde")
    if school.wonde_school_id is None or school.wonde_token_encrypted is None:
        raise ReadNotPossible(FailureCode.NOT_CONNECTED, "the school is not connected to Wonde")
    if school.state == SchoolState.NEEDS_CONFIRMATION:
        raise ReadNotPossible(
            FailureCode.AWAITING_CONFIRMATION, "the school's Wonde approval waits for the platform's confirmation"
        )
    since = delta_since(school) if run.kind == RunKind.DELTA_READ else None
    if run.kind == RunKind.DELTA_READ and since is None:
        run.kind = RunKind.FULL_READ  # nothing to be a delta of yet
    token = box.decrypt(school.wonde_token_encrypted)
    client = wonde.school(school.wonde_school_id, token, domain=school.wonde_domain)
    return ReadPlan(school.id, run.kind, since, client)


async def read_from_wonde(
    client: SchoolClient, since: datetime | None, progress: ReadProgress | None = None
) -> MisRead:
    """Every page of what the read needs; raises before anything is written if any page fails.
    ``progress`` hears of each new page (pages and students so far)."""
    read = MisRead()
    pages = client.pages_read

    async def new_page() -> None:
        nonlocal pages
        if progress is not None and client.pages_read != pages:
            pages = client.pages_read
            await progress.page(pages, len(read.students))

    async for student in client.students(updated_after=since):
        await new_page()
        read.add_student(student)
    async for item in client.classes(updated_after=since):
        await new_page()
        read.add_class(item)
    async for group in client.groups(updated_after=since):
        await new_page()
        read.add_group(group)
    if since is not None:
        async for deletion in client.deletions(updated_after=since):
            await new_page()
            read.add_deletion(deletion)
    if progress is not None:
        progress.pages, progress.students = client.pages_read, len(read.students)
    return read.finish()


async def write_read(
    session: AsyncSession,
    school_id: str,
    read: MisRead,
    *,
    complete: bool,
    box: SecretBox | None = None,
    missing: Missing | None = None,
) -> dict[str, Any]:
    """Apply a finished read to the mirror in bulk; returns what changed. Call inside one transaction.

    Records the read set aside keep what the mirror had of them: a complete read does not remove
    them, nor their memberships; nor does it remove the students it did not return that ``missing``
    keeps (excluded, or not confirmed gone: ``app.sync.mirror.missing``). Students erased on request are
    left out: by Wonde id, and (given the ``box`` that keys the digests) by UPN, which an MIS migration
    keeps while it changes every id."""
    missing = missing or Missing()
    if complete and not read.students and not read.quarantined(Record.STUDENT):
        raise NoStudentsReturned("Wonde returned no students; nothing was changed (is the school audited?)")
    await lock_school(session, school_id)
    mirror = MirrorRepository(session, school_id)
    # Under the school's lock, so that an erasure made while the read was fetching holds too.
    read.forget(await _erased_in(mirror, read, school_id, box))
    set_aside = {record: read.quarantined(record) for record in Record}
    quarantined = sum(len(ids) for ids in set_aside.values())
    set_aside[Record.STUDENT] |= missing.kept
    for wonde_id in sorted(missing.excluded):
        read.issues[(Record.STUDENT, wonde_id, IssueCode.EXCLUDED)] = RecordIssue(
            Record.STUDENT, wonde_id, IssueCode.EXCLUDED, ()
        )
    students, classes, groups, memberships = MirrorCounts(), MirrorCounts(), MirrorCounts(), MirrorCounts()
    await mirror.upsert_students(list(read.students.values()), students)
    await mirror.upsert_classes(list(read.classes.values()), classes)
    await mirror.upsert_groups(list(read.groups.values()), groups)
    if students.inserted + classes.inserted + groups.inserted > ANALYZE_AFTER_INSERTS:
        await mirror.refresh_statistics()
    if complete:
        students.deleted = await mirror.soft_delete(
            "mis_students", keep=read.students.keys() | set_aside[Record.STUDENT]
        )
        classes.deleted = await mirror.soft_delete("mis_classes", keep=read.classes.keys() | set_aside[Record.CLASS])
        groups.deleted = await mirror.soft_delete("mis_groups", keep=read.groups.keys() | set_aside[Record.GROUP])
    else:
        for table, kind, counts in (
            ("mis_students", "student", students),
            ("mis_classes", "class", classes),
            ("mis_groups", "group", groups),
        ):
            counts.updated += await mirror.restore(table, read.restored_ids(kind))
            counts.deleted += await mirror.soft_delete(table, only=read.deleted_ids(kind))
    scope = None if complete else read.students.keys()
    leave_alone = set_aside[Record.STUDENT]
    await mirror.sync_memberships(
        "class", read.class_members, students=scope, counts=memberships, leave_alone=leave_alone
    )
    await mirror.sync_memberships(
        "group", read.group_members, students=scope, counts=memberships, leave_alone=leave_alone
    )
    memberships.deleted += await mirror.drop_memberships_of_deleted()
    await mirror.derive_container_years()
    await mirror.record_issues(read.issues.values(), read=None if complete else _ids_read(read, set_aside))
    return {
        "read": {
            "students": len(read.students),
            "classes": len(read.classes),
            "groups": len(read.groups),
            "deletions": len(read.deletions),
        },
        "students": students.as_dict(),
        "classes": classes.as_dict(),
        "groups": groups.as_dict(),
        "memberships": memberships.as_dict(),
        "quarantined": quarantined,
        "cleaned": sum(1 for issue in read.issues.values() if issue.code == IssueCode.CLEANED),
        "missing": {
            "excluded": len(missing.excluded),
            "unconfirmed": len(missing.unconfirmed),
            "gone": len(missing.gone),
            "lookups": missing.lookups,
        },
    }


async def _erased_in(mirror: MirrorRepository, read: MisRead, school_id: str, box: SecretBox | None) -> set[str]:
    """The students of this read that were erased on request."""
    ids, digests = await mirror.erased()
    if digests and box is not None:
        ids |= {
            s.wonde_id for s in read.students.values() if s.upn and digests & set(upn_digest(box, school_id, s.upn))
        }
    return ids


def _ids_read(read: MisRead, set_aside: dict[Record, set[str]]) -> dict[str, Collection[str]]:
    """Every Wonde id a delta read returned, by record kind, set aside or not."""
    return {
        Record.STUDENT: read.students.keys() | set_aside[Record.STUDENT],
        Record.CLASS: read.classes.keys() | set_aside[Record.CLASS],
        Record.GROUP: read.groups.keys() | set_aside[Record.GROUP],
    }


class ReadInconsistent(WondeProtocolError):
    """Two full reads in a row missed students Wonde still has on roll (its pages shifted under them)."""


async def _confirmed(
    sessionmaker: async_sessionmaker[AsyncSession], plan: ReadPlan, read: MisRead, progress: ReadProgress
) -> tuple[MisRead, Missing]:
    """A full read whose missing students are confirmed (``app.sync.mirror.missing``); read again once
    when Wonde still has some of them on roll, and ``ReadInconsistent`` if the second read does too."""
    for attempt in (1, 2):
        async with unit_of_work(sessionmaker, None) as session:
            live = await MirrorRepository(session, plan.school_id).live_student_ids()
        not_returned = live - read.students.keys() - read.quarantined(Record.STUDENT)
        missing = await confirm_missing(plan.client, not_returned, utc_now().date())
        if not missing.still_there:
            return read, missing
        logger.warning("a full read missed students Wonde still has", extra={"students": len(missing.still_there)})
        if attempt == 1:
            read = await read_from_wonde(plan.client, None, progress)
    raise ReadInconsistent(
        f"{len(missing.still_there)} student(s) Wonde still has on roll were missing from two full reads in a row"
    )


def wonde_responses(client: SchoolClient) -> dict[str, int]:
    """How the read's requests ended, by status; stored as ``counts["wonde_responses"]`` for /metrics."""
    return dict(sorted(client.responses.items()))


async def _finish(
    session: AsyncSession,
    run_id: uuid.UUID,
    plan: ReadPlan,
    counts: dict[str, Any],
    started: float,
    progress: ReadProgress,
) -> SyncRun:
    run = await session.get(SyncRun, run_id, with_for_update=True)
    school = await session.get(School, plan.school_id, with_for_update=ROW_FOR_CHANGE)
    assert run is not None
    assert school is not None
    assert run.started_at is not None
    if plan.kind == RunKind.FULL_READ:
        school.last_full_read_at = run.started_at
    else:
        school.last_delta_read_at = run.started_at
    runs.succeed(
        run,
        counts=counts
        | {"duration_seconds": round(time.monotonic() - started, 3), "wonde_responses": wonde_responses(plan.client)},
    )
    run.requests_made = plan.client.requests_made
    run.progress = progress.state("done")
    await session.flush()
    return run


async def _record_failure(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: uuid.UUID, failure: Failure, plan: ReadPlan | None
) -> None:
    async with unit_of_work(sessionmaker, None) as session:
        run = await session.get(SyncRun, run_id, with_for_update=True)
        if run is not None:
            runs.fail(run, failure)
            if plan is not None:
                run.requests_made = plan.client.requests_made
                run.counts = {**run.counts, "wonde_responses": wonde_responses(plan.client)}
                if run.progress:
                    run.progress = {**run.progress, "phase": "failed"}


async def run_read(
    sessionmaker: async_sessionmaker[AsyncSession], wonde: WondeClient, box: SecretBox, run_id: uuid.UUID
) -> str:
    """Carry out a queued read run; returns its final status. Safe to call twice for one run.

    A read Wonde or the school's state stops is recorded as failed and returns "failed"; any other
    failure is recorded too, then raises ``JobFailed`` (its code and the run's id, nothing more)."""
    with log_context(run_id=str(run_id)):
        return await _read(sessionmaker, wonde, box, run_id)


async def _read(
    sessionmaker: async_sessionmaker[AsyncSession], wonde: WondeClient, box: SecretBox, run_id: uuid.UUID
) -> str:
    started = time.monotonic()
    plan: ReadPlan | None = None
    try:
        async with unit_of_work(sessionmaker, None) as session:
            plan = await _begin(session, run_id, wonde, box)
        if plan is None:
            return "finished already"
        progress = ReadProgress(sessionmaker, run_id)
        read = await read_from_wonde(plan.client, plan.since, progress)
        missing = None
        if plan.kind == RunKind.FULL_READ:
            read, missing = await _confirmed(sessionmaker, plan, read, progress)
        await progress.write("writing")
        async with unit_of_work(sessionmaker, None) as session:
            counts = await write_read(
                session, plan.school_id, read, complete=plan.kind == RunKind.FULL_READ, box=box, missing=missing
            )
            await _finish(session, run_id, plan, counts, started, progress)
    except Exception as exc:
        failure, expected = failure_of(exc), isinstance(exc, WondeError | ReadNotPossible)
    else:
        assert plan is not None
        logger.info("read succeeded", extra={"kind": plan.kind, "requests": plan.client.requests_made})
        return "succeeded"
    # Recorded outside the except block: an error recording it does not carry the first one along.
    await _record_failure(sessionmaker, run_id, failure, plan)
    extra = {"failure_code": failure.code, "detail": failure.detail}
    if expected:
        logger.warning("read failed", extra=extra)
        return "failed"
    logger.error("read failed unexpectedly", extra=extra)
    raise JobFailed(failure.code, run_id) from None
