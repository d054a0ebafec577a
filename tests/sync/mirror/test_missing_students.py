"""A student missing from a full read is not yet a leaver (issue 16, items 9 and 10), against the sandbox:
pages shifting under a read, a child on the school's exclude list, an inactive school, a maintenance
page. No child still on roll is ever archived."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.kit.crypto import SecretBox
from app.kit.pagination import PageParams
from app.models import MisStudent, Pupil, SyncRun
from app.sync.mirror.quality.codes import IssueCode
from app.sync.mirror.quality.repository import QualityRepository
from app.sync.reconcile.flow import run_sync
from app.wonde.client import WondeClient
from app.wonde.sandbox.server import SandboxServer
from tests.fixtures.database import Committed
from tests.fixtures.schools import mis_event, new_run, onboarded
from tests.fixtures.wonde import no_sleep

pytestmark = [pytest.mark.slow, pytest.mark.wonde(attempts=2, base_delay=0, sleep=no_sleep)]


def _fault(sandbox: SandboxServer, **rule: Any) -> None:
    response = httpx.post(f"{sandbox.admin_url}/faults", json=rule)
    assert response.status_code == 200, response.text


def _clear(sandbox: SandboxServer) -> None:
    httpx.delete(f"{sandbox.admin_url}/faults")


async def _nightly(committed: Committed, wonde: WondeClient, box: SecretBox, school_id: str) -> SyncRun:
    """The nightly sync (it always reads everything); its read run."""
    run_id = await new_run(committed.sessionmaker, school_id, "reconcile", trigger="schedule")
    await run_sync(committed.sessionmaker, None, wonde, box, run_id)
    async with committed.sessionmaker() as session:
        run = await session.get(SyncRun, run_id)
        assert run is not None
        return run


async def _archived(committed: Committed, school_id: str) -> set[str]:
    """The Wonde ids of the students whose account is archived."""
    async with committed.sessionmaker() as session:
        rows = await session.scalars(
            select(MisStudent.wonde_id)
            .join(Pupil, Pupil.mis_student_id == MisStudent.id)
            .where(Pupil.school_id == school_id, Pupil.archived_at.is_not(None))
        )
        return set(rows)


async def _read_counts(committed: Committed, run: SyncRun) -> dict[str, Any]:
    async with committed.sessionmaker() as session:
        read = await session.get(SyncRun, run.progress["read_run_id"])
        assert read is not None
        return dict(read.counts)


async def test_a_child_on_the_exclude_list_keeps_everything_and_is_listed(
    committed: Committed, sandbox: SandboxServer, wonde: WondeClient, settings: Settings
) -> None:
    box = SecretBox(settings.encryption_key)
    school_id, wonde_school = await onboarded(committed, sandbox, wonde, box, pupils=120)
    excluded, other = sorted(sandbox.state.school(wonde_school).students)[:2]
    mis_event(sandbox, wonde_school, {"kind": "exclude", "student_id": excluded})
    mis_event(sandbox, wonde_school, {"kind": "leaver", "student_id": other})
    run = await _nightly(committed, wonde, box, school_id)
    assert run.status == "succeeded", run.error
    assert await _archived(committed, school_id) == {other}  # the leaver only
    counts = await _read_counts(committed, run)
    assert counts["missing"] == {"excluded": 1, "unconfirmed": 0, "gone": 1, "lookups": 1}
    async with committed.sessionmaker() as session:
        issues, _ = await QualityRepository(session, school_id).page(
            IssueCode.EXCLUDED, PageParams(page=1, per_page=10)
        )
        live = await session.scalar(
            select(MisStudent.deleted_at).where(MisStudent.school_id == school_id, MisStudent.wonde_id == excluded)
        )
    assert [i.wonde_id for i in issues] == [excluded] and issues[0].name
    assert live is None  # the mirror keeps them as they were
    # Beyond the lookups a read may make, a missing child is kept, unconfirmed, for a later read.
    wonde.missing_checks = 0
    run = await _nightly(committed, wonde, box, school_id)
    assert run.status == "succeeded", run.error
    assert (await _read_counts(committed, run))["missing"]["unconfirmed"] == 1
    assert await _archived(committed, school_id) == {other}


async def test_pages_shifting_under_a_read_never_archive_a_child_on_roll(
    committed: Committed, sandbox: SandboxServer, wonde: WondeClient, settings: Settings
) -> None:
    box = SecretBox(settings.encryption_key)
    school_id, wonde_school = await onboarded(committed, sandbox, wonde, box, pupils=450)
    first = min(sandbox.state.school(wonde_school).students)
    try:
        # With cursor pages nothing shifts: the walk serves the pupil who leaves behind it, and no one
        # is skipped; the next sync archives the leaver.
        _fault(sandbox, kind="leaver_during_walk", endpoint="students", page=2, school_id=wonde_school, times=1)
        run = await _nightly(committed, wonde, box, school_id)
        assert run.status == "succeeded", run.error
        assert (await _read_counts(committed, run))["missing"]["lookups"] == 0
        assert await _archived(committed, school_id) == set()
        assert (await _nightly(committed, wonde, box, school_id)).status == "succeeded"
        assert await _archived(committed, school_id) == {first}
        # Page numbers (a Wonde that ignores the cursor): the next pupil to leave shifts the pages.
        wonde.cursor_pages = False
        first = min(sandbox.state.school(wonde_school).students)
        # Once: the first pupil leaves as page 2 is asked for, a pupil of page 2 is skipped; the read is
        # read again, and only the leavers are archived.
        left = await _archived(committed, school_id)
        _fault(sandbox, kind="leaver_during_walk", endpoint="students", page=2, school_id=wonde_school, times=1)
        run = await _nightly(committed, wonde, box, school_id)
        assert run.status == "succeeded", run.error
        assert await _archived(committed, school_id) == left | {first}
        left = await _archived(committed, school_id)
        # Twice in a row: the run fails, read_inconsistent, and no one is archived by it.
        _fault(sandbox, kind="leaver_during_walk", endpoint="students", page=2, school_id=wonde_school, times=2)
        run = await _nightly(committed, wonde, box, school_id)
        assert (run.status, run.failure_code) == ("failed", "read_inconsistent"), run.error
        assert await _archived(committed, school_id) == left
    finally:
        _clear(sandbox)


async def test_an_inactive_school_and_a_maintenance_page_are_never_an_empty_school(
    committed: Committed, sandbox: SandboxServer, wonde: WondeClient, settings: Settings
) -> None:
    box = SecretBox(settings.encryption_key)
    school_id, wonde_school = await onboarded(committed, sandbox, wonde, box, pupils=60)
    try:
        _fault(sandbox, kind="html", endpoint="students", school_id=wonde_school, times=1)
        run = await _nightly(committed, wonde, box, school_id)
        assert run.status == "succeeded", run.error  # retried
        _fault(sandbox, kind="423", endpoint="students", school_id=wonde_school, times=-1)
        run = await _nightly(committed, wonde, box, school_id)
        assert (run.status, run.failure_code) == ("failed", "school_inactive"), run.error
        _clear(sandbox)
        _fault(sandbox, kind="503", endpoint="students", school_id=wonde_school, times=-1)
        run = await _nightly(committed, wonde, box, school_id)
        assert (run.status, run.failure_code) == ("failed", "wonde_unavailable"), run.error
        assert await _archived(committed, school_id) == set()
    finally:
        _clear(sandbox)
