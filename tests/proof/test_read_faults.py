"""The fault matrix for reads: every fault the sandbox can inject (429, 500, a response slower than the
client's read timeout, a truncated page, 401), on the first, a middle and the last page of every
endpoint a read pages through, once (transient) and always (persistent) — for a full read, and for a
whole sync (a delta read, so the deletions too, then the reconcile) of an onboarded school with MIS
events pending.

For each case:
- a transient fault is absorbed by the client's retries: the read succeeds and leaves the mirror as a
  clean read does (a further clean read changes nothing); the sync leaves the app a copy of the MIS.
  A 401 is never retried (the school's connection is broken), so once is enough to fail the run;
- a failed run changes nothing the school owns, byte for byte (mirror, bands, memberships, pupils,
  journal, credentials, the school row), and is recorded failed with the reason;
- the next run, the fault cleared, converges: the mirror equals the MIS, the app the copycat projection;
- never two accounts for one child, nor any row twice.

The school is small (30 pupils, 15 classes, 5 forms) and the sandbox pages the endpoint under test
small (its page size capped per case so that the endpoint has at least three pages), so the matrix is
fast.
Two schools are onboarded once per module and shared; each case adds its own MIS events first and
leaves the school converged, and the sandbox's faults and page cap are restored after each case.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.kit.crypto import SecretBox
from app.models import MisStudent, Pupil, School, SyncRun
from app.sync.mirror.flow import run_read
from app.sync.mirror.service import delta_since
from app.sync.reconcile.flow import run_sync
from app.wonde.client import RetryPolicy, WondeClient, create_http_client, format_updated_after
from app.wonde.sandbox import api as sandbox_api
from app.wonde.sandbox import listing
from app.wonde.sandbox.faults import FaultRule
from app.wonde.sandbox.server import SandboxServer
from tests.fixtures.checks import copycat_problems, duplicates, mirror_problems, rows, unchanged
from tests.fixtures.database import Committed, Sessionmaker, delete_schools
from tests.fixtures.report import record
from tests.fixtures.schools import connect, mis_event, new_run, onboard
from tests.fixtures.wonde import no_sleep

# The client's read timeout (seconds) in the "slow" cases, where a slow page takes three times longer;
# the other cases wait longer, so that a busy machine's slow answer is never mistaken for the fault.
SLOW_READ_TIMEOUT = 0.5
READ_TIMEOUT = 10.0
ATTEMPTS = 3
FAULTS: dict[str, dict[str, Any]] = {
    "429": {"kind": "429", "retry_after": 0},
    "500": {"kind": "500"},
    "slow": {"kind": "slow", "seconds": SLOW_READ_TIMEOUT * 3},
    "truncated": {"kind": "truncated"},
    "401": {"kind": "401"},
    "423": {"kind": "423"},
    "503": {"kind": "503"},
    "html": {"kind": "html"},
}
# What the failed run's error says, per fault.
REASONS = {
    "429": "429",
    "500": "500",
    "slow": "timed out",
    "truncated": "not valid JSON",
    "401": "401",
    "423": "423",
    "503": "503",
    "html": "maintenance page",
}
FULL_READ_ENDPOINTS = ("students", "classes", "groups")
DELTA_READ_ENDPOINTS = (*FULL_READ_ENDPOINTS, "deletions")
POSITIONS = ("first", "middle", "last")
MODES = ("transient", "persistent")
# MIS events each case adds before its run, so a partial write would show: a joiner, a leaver, a
# rename, and a pupil changing year (new form and classes; a school this small has no sets to move between).
PENDING: tuple[dict[str, Any], ...] = ({"kind": "joiner"}, {"kind": "leaver"}, {"kind": "rename"})
YEARS = itertools.cycle(range(7, 12))
PUPILS = 30
# A sync with nothing to do.
NOTHING = {"held": 0, "pupils_created": 0}

# The ``wonde`` fixture's client, as ``_wonde`` makes it; the "slow" cases shorten its read timeout.
pytestmark = pytest.mark.wonde(timeout=READ_TIMEOUT, attempts=ATTEMPTS, base_delay=0, sleep=no_sleep)


def _cases(endpoints: tuple[str, ...], offset: int) -> list[Any]:
    """Every case; all but one per fault kind (endpoints, positions and modes taken in turn) run only
    in ``make proof``."""
    representative = {
        (kind, MODES[(i + offset) % 2], endpoints[(i + offset) % len(endpoints)], POSITIONS[(i + offset) % 3])
        for i, kind in enumerate(FAULTS)
    }
    return [
        pytest.param(
            kind,
            mode,
            endpoint,
            position,
            id=f"{kind}-{mode}-{endpoint}-{position}",
            marks=[
                *([] if (kind, mode, endpoint, position) in representative else [pytest.mark.proof]),
                *([pytest.mark.wonde(timeout=SLOW_READ_TIMEOUT)] if kind == "slow" else []),
            ],
        )
        for kind in FAULTS
        for mode in MODES
        for endpoint in endpoints
        for position in POSITIONS
    ]


@dataclass(frozen=True)
class Onboarded:
    school_id: str
    wonde_school: str


def _fresh_engine(database_url: str) -> Any:
    return create_async_engine(database_url, poolclass=NullPool)


def _wonde(sandbox: SandboxServer, http: httpx.AsyncClient) -> WondeClient:
    return WondeClient(
        http, base_url=sandbox.base_url, retry=RetryPolicy(attempts=ATTEMPTS, base_delay=0), sleep=no_sleep
    )


async def _sync(
    sessionmaker: Sessionmaker, wonde: WondeClient, box: SecretBox, school_id: str, trigger: str = "manual"
) -> SyncRun:
    """A "sync now" run (read, then reconcile), carried out; the finished run. The nightly sync
    (``trigger="schedule"``) always reads everything."""
    run_id = await new_run(sessionmaker, school_id, "reconcile", trigger=trigger)
    await run_sync(sessionmaker, None, wonde, box, run_id)
    async with sessionmaker() as session:
        run = await session.get(SyncRun, run_id)
    assert run is not None
    return run


async def _read_of(sessionmaker: Sessionmaker, sync: SyncRun) -> SyncRun | None:
    """The read a sync made (the school's first read run created after the sync's)."""
    async with sessionmaker() as session:
        return await session.scalar(
            select(SyncRun)
            .where(
                SyncRun.school_id == sync.school_id,
                SyncRun.kind.in_(("full_read", "delta_read")),
                SyncRun.created_at >= sync.created_at,
            )
            .order_by(SyncRun.created_at)
            .limit(1)
        )


async def _setup(database_url: str, sandbox: SandboxServer, box: SecretBox, *, synced: bool) -> Onboarded:
    engine = _fresh_engine(database_url)
    try:
        sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        school_id, wonde_school = await connect(
            sessionmaker, sandbox, box, pupils=PUPILS, seed=uuid.uuid4().int % 10_000, name="Faulty Academy"
        )
        async with create_http_client(READ_TIMEOUT) as http:
            wonde = _wonde(sandbox, http)
            await onboard(sessionmaker, wonde, box, school_id)
            if synced:
                # Leavers and joiners in three years: a delta read then has at least three students,
                # classes, forms and deletions to page through in every case of the module.
                for event in ({"kind": "leaver"},) * 3 + tuple({"kind": "joiner", "year": y} for y in (7, 8, 9)):
                    mis_event(sandbox, wonde_school, event)
                run = await _sync(sessionmaker, wonde, box, school_id)
                assert run.status == "succeeded", run.error
        return Onboarded(school_id, wonde_school)
    finally:
        await engine.dispose()


async def _teardown(database_url: str, school_id: str) -> None:
    engine = _fresh_engine(database_url)
    try:
        await delete_schools(async_sessionmaker(engine), [school_id])
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def read_school(database_url: str, sandbox: SandboxServer, settings: Settings) -> Iterator[Onboarded]:
    """An onboarded school for the full-read cases (read, imported, merged)."""
    school = asyncio.run(_setup(database_url, sandbox, SecretBox(settings.encryption_key), synced=False))
    yield school
    asyncio.run(_teardown(database_url, school.school_id))


@pytest.fixture(scope="module")
def sync_school(database_url: str, sandbox: SandboxServer, settings: Settings) -> Iterator[Onboarded]:
    """An onboarded, synced school for the sync cases."""
    school = asyncio.run(_setup(database_url, sandbox, SecretBox(settings.encryption_key), synced=True))
    yield school
    asyncio.run(_teardown(database_url, school.school_id))


# Per endpoint, the most items the sandbox puts on a page during a case (Wonde's own cap is undocumented).
PAGE_CAPS: dict[str, int] = {}


def _capped_paginate(request: Any, query: listing.ListQuery, items: Any, **options: Any) -> Any:
    cap = PAGE_CAPS.get(request.url.path.rstrip("/").rsplit("/", 1)[-1])
    if cap is not None:
        query = dataclasses.replace(query, per_page=min(query.per_page or listing.DEFAULT_PER_PAGE, cap))
    return listing.paginate(request, query, items, **options)


@pytest.fixture(autouse=True)
def _restore_sandbox(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pages as small as each case asks; no fault and no page cap left behind."""
    monkeypatch.setattr(sandbox_api, "paginate", _capped_paginate)
    yield
    PAGE_CAPS.clear()
    sandbox.state.faults.clear()


def _page_under_test(
    sandbox: SandboxServer, wonde_school: str, token: str, endpoint: str, since: Any, position: str
) -> int:
    """Cap the endpoint's pages so that it (as this read will ask for it) has at least three; the page
    number at ``position``. The other endpoints keep their usual pages."""
    params: dict[str, Any] = {"per_page": 200}
    if endpoint == "groups":
        params["type"] = "REGISTRATION"
    if since is not None:
        params["updated_after"] = format_updated_after(since)
    PAGE_CAPS.clear()
    response = httpx.get(
        f"{sandbox.base_url}/schools/{wonde_school}/{endpoint}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    body = response.json()
    assert not (body.get("meta") or {}).get("pagination", {}).get("more"), "the probe must see everything"
    count = len(body["data"])
    assert count >= 3, f"only {count} {endpoint} to read: the case cannot put a fault on three pages"
    PAGE_CAPS[endpoint] = max(1, count // 3)
    pages = math.ceil(count / PAGE_CAPS[endpoint])
    return {"first": 1, "middle": (pages + 1) // 2, "last": pages}[position]


async def _prepare(
    sessionmaker: Sessionmaker,
    sandbox: SandboxServer,
    box: SecretBox,
    school: Onboarded,
    endpoint: str,
    position: str,
    *,
    delta: bool,
) -> int:
    """Add the case's MIS events and lower the page cap; the page to break."""
    for event in (*PENDING, {"kind": "change_year", "year": next(YEARS)}):
        mis_event(sandbox, school.wonde_school, event)
    async with sessionmaker() as session:
        row = await session.get(School, school.school_id)
    assert row is not None
    assert row.wonde_token_encrypted is not None
    since = delta_since(row) if delta else None
    assert (since is not None) == delta
    token = box.decrypt(row.wonde_token_encrypted)
    return _page_under_test(sandbox, school.wonde_school, token, endpoint, since, position)


def _inject(sandbox: SandboxServer, school: Onboarded, kind: str, mode: str, endpoint: str, page: int) -> None:
    rule = {**FAULTS[kind], "endpoint": endpoint, "page": page, "school_id": school.wonde_school}
    sandbox.state.add_fault(FaultRule.model_validate({**rule, "times": 1 if mode == "transient" else -1}))


def _fired(sandbox: SandboxServer) -> int:
    return sum(rule["fired"] for rule in sandbox.state.faults.rules())


def _absorbed(kind: str, mode: str) -> bool:
    """Whether the retries absorb the fault: a transient one, unless it is a 401 (never retried)."""
    return mode == "transient" and kind != "401"


def _expected_fired(kind: str, mode: str) -> int:
    return 1 if mode == "transient" or kind == "401" else ATTEMPTS


@pytest.mark.parametrize(("kind", "mode", "endpoint", "position"), _cases(FULL_READ_ENDPOINTS, 0))
async def test_a_fault_in_a_full_read(
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
    read_school: Onboarded,
    kind: str,
    mode: str,
    endpoint: str,
    position: str,
) -> None:
    sessionmaker, school_id = committed.sessionmaker, read_school.school_id
    page = await _prepare(sessionmaker, sandbox, box, read_school, endpoint, position, delta=False)
    before = await rows(sessionmaker, school_id)
    _inject(sandbox, read_school, kind, mode, endpoint, page)
    run_id = await new_run(sessionmaker, school_id, "full_read")
    status = await run_read(sessionmaker, wonde, box, run_id)
    fired = _fired(sandbox)
    sandbox.state.faults.clear()

    problems: list[str] = []
    if fired != _expected_fired(kind, mode):
        problems.append(f"the fault fired {fired} times, not {_expected_fired(kind, mode)}")
    async with sessionmaker() as session:
        run = await session.get(SyncRun, run_id)
    assert run is not None
    if _absorbed(kind, mode):
        if status != "succeeded":
            problems.append(f"the retries did not absorb it: {run.error}")
    else:
        if status != "failed":
            problems.append(f"the read {status}")
        elif REASONS[kind] not in (run.error or ""):
            problems.append(f"the failed run does not say why: {run.error!r}")
        problems += unchanged(before, await rows(sessionmaker, school_id))
        recovered = await run_read(sessionmaker, wonde, box, await new_run(sessionmaker, school_id, "full_read"))
        if recovered != "succeeded":
            problems.append(f"the next read {recovered}")
    problems += await mirror_problems(sessionmaker, sandbox, school_id, read_school.wonde_school)
    if _absorbed(kind, mode):
        # Equal to a clean read: one now finds nothing to change. (After a failure, the next read was clean.)
        clean_id = await new_run(sessionmaker, school_id, "full_read")
        assert await run_read(sessionmaker, wonde, box, clean_id) == "succeeded"
        async with sessionmaker() as session:
            clean = await session.get(SyncRun, clean_id)
        assert clean is not None
        changed = {k: v for k in ("students", "classes", "groups", "memberships") if any(v := clean.counts[k].values())}
        if changed:
            problems.append(f"a clean read after it still changed {changed}")
    problems += await duplicates(sessionmaker, school_id)

    record(f"faults: {kind} {mode} on {endpoint} page {page} of full read", lost_or_duplicated=int(bool(problems)))
    print(*problems, sep="\n")  # in full (the assertion's message is shortened)
    assert not problems, problems


@pytest.mark.parametrize(("kind", "mode", "endpoint", "position"), _cases(DELTA_READ_ENDPOINTS, 1))
async def test_a_fault_in_a_sync(
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
    sync_school: Onboarded,
    kind: str,
    mode: str,
    endpoint: str,
    position: str,
) -> None:
    sessionmaker, school_id = committed.sessionmaker, sync_school.school_id
    page = await _prepare(sessionmaker, sandbox, box, sync_school, endpoint, position, delta=True)
    before = await rows(sessionmaker, school_id)
    _inject(sandbox, sync_school, kind, mode, endpoint, page)
    run = await _sync(sessionmaker, wonde, box, school_id)
    fired = _fired(sandbox)
    sandbox.state.faults.clear()

    problems: list[str] = []
    if fired != _expected_fired(kind, mode):
        problems.append(f"the fault fired {fired} times, not {_expected_fired(kind, mode)}")
    read = await _read_of(sessionmaker, run)
    if read is None or read.kind != "delta_read":
        problems.append(f"the sync did not make a delta read ({read.kind if read else None})")
    elif not _absorbed(kind, mode) and (read.status != "failed" or REASONS[kind] not in (read.error or "")):
        problems.append(f"the failed read is not recorded with its reason: {read.status} {read.error!r}")
    if _absorbed(kind, mode):
        if run.status != "succeeded":
            problems.append(f"the retries did not absorb it: {run.error}")
    else:
        if run.status != "failed":
            problems.append(f"the sync {run.status}")
        elif "nothing was applied" not in (run.error or "") or REASONS[kind] not in (run.error or ""):
            problems.append(f"the failed run does not say why: {run.error!r}")
        problems += unchanged(before, await rows(sessionmaker, school_id))
        recovered = await _sync(sessionmaker, wonde, box, school_id)
        if recovered.status != "succeeded":
            problems.append(f"the next sync {recovered.status}: {recovered.error}")
    problems += await mirror_problems(sessionmaker, sandbox, school_id, sync_school.wonde_school)
    problems += await copycat_problems(sessionmaker, sandbox, school_id, sync_school.wonde_school)
    if _absorbed(kind, mode):
        # As a clean sync would: one more finds nothing to do. (After a failure, the next sync was clean.)
        again = await _sync(sessionmaker, wonde, box, school_id)
        if again.status != "succeeded" or again.counts != NOTHING:
            problems.append(f"a sync after it still applied {again.counts} ({again.status})")
    problems += await duplicates(sessionmaker, school_id)

    record(f"faults: {kind} {mode} on {endpoint} page {page} of sync", lost_or_duplicated=int(bool(problems)))
    print(*problems, sep="\n")  # in full (the assertion's message is shortened)
    assert not problems, problems


WALKS = ("leaver_during_walk", "joiner_during_walk")


@pytest.mark.proof
@pytest.mark.parametrize("paging", ["cursor", "pages"])
@pytest.mark.parametrize("times", [1, -1], ids=["once", "every-walk"])
@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("kind", WALKS)
async def test_the_mis_changing_while_a_full_read_walks_the_pages(
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
    sync_school: Onboarded,
    kind: str,
    position: str,
    times: int,
    paging: str,
) -> None:
    """A pupil leaves (or joins) just before a page of the nightly sync's full read is served: with page
    numbers (a Wonde that ignores the cursor) the pages shift under the read and a student is skipped (or
    served twice); with cursor pages nothing shifts. Either way no child still on roll is ever archived;
    the sync succeeds (read again once) or fails read_inconsistent, and the next one is clean."""
    sessionmaker, school_id = committed.sessionmaker, sync_school.school_id
    wonde.cursor_pages = paging == "cursor"
    page = await _prepare(sessionmaker, sandbox, box, sync_school, "students", position, delta=False)
    rule = {"kind": kind, "endpoint": "students", "page": page, "school_id": sync_school.wonde_school, "times": times}
    sandbox.state.add_fault(FaultRule.model_validate(rule))
    run = await _sync(sessionmaker, wonde, box, school_id, trigger="schedule")
    sandbox.state.faults.clear()

    problems: list[str] = []
    if run.status != "succeeded" and run.failure_code != "read_inconsistent":
        problems.append(f"the sync failed for another reason: {run.failure_code} {run.error}")
    on_roll = set(sandbox.state.school(sync_school.wonde_school).students)
    problems += [
        f"a child on roll was archived: {s}" for s in sorted(on_roll & await _archived(sessionmaker, school_id))
    ]
    recovered = await _sync(sessionmaker, wonde, box, school_id, trigger="schedule")
    if recovered.status != "succeeded":
        problems.append(f"the next sync {recovered.status}: {recovered.error}")
    problems += await copycat_problems(sessionmaker, sandbox, school_id, sync_school.wonde_school)
    problems += await duplicates(sessionmaker, school_id)

    once = "once" if times == 1 else "on every walk"
    record(f"faults: {kind} {once} at page {page} of a full read ({paging})", lost_or_duplicated=int(bool(problems)))
    print(*problems, sep="\n")
    assert not problems, problems


async def _archived(sessionmaker: Sessionmaker, school_id: str) -> set[str]:
    """The Wonde ids of the students whose account is archived."""
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(MisStudent.wonde_id)
            .join(Pupil, Pupil.mis_student_id == MisStudent.id)
            .where(Pupil.school_id == school_id, Pupil.archived_at.is_not(None))
        )
        return set(rows)
