"""Reading schools from the Wonde sandbox over real HTTP into the real database.

- a full read of a generated 2,000-pupil secondary school fills the mirror; a second changes nothing;
- after scripted MIS events, a delta read leaves the mirror exactly as a full read would;
- a fault on a middle page of a full read changes no mirror row, fails the run with the reason, and
  the next read succeeds.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from app.kit.crypto import SecretBox
from app.models import MisClass, MisGroup, MisMembership, MisStudent, School, SyncRun
from app.sync.mirror.flow import run_read
from app.wonde.client import WondeClient
from app.wonde.sandbox.server import SandboxServer
from tests.fixtures.database import Committed
from tests.fixtures.wonde import no_sleep

# A short read timeout and no waiting between attempts: the faults below are injected on purpose.
pytestmark = pytest.mark.wonde(timeout=1.0, attempts=2, base_delay=0, sleep=no_sleep)


def _admin(sandbox: SandboxServer, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.request(method, f"{sandbox.admin_url}{path}", json=body, timeout=60)
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="module")
def big_school(sandbox: SandboxServer) -> dict[str, Any]:
    result: dict[str, Any] = _admin(
        sandbox, "POST", "/schools/generate", {"phase": "secondary", "pupils": 2000, "seed": 7}
    )
    return result


@pytest.fixture
def small_school(sandbox: SandboxServer) -> dict[str, Any]:
    seed = uuid.uuid4().int % 10_000
    result: dict[str, Any] = _admin(
        sandbox, "POST", "/schools/generate", {"phase": "secondary", "pupils": 600, "seed": seed}
    )
    return result


async def _connect(committed: Committed, box: SecretBox, sandbox: SandboxServer, wonde_school: dict[str, Any]) -> str:
    school_id = committed.track(f"sandbox-{uuid.uuid4().hex[:8]}")
    school = School(
        id=school_id,
        name="Sandbox School",
        urn=wonde_school["urn"],
        wonde_school_id=wonde_school["school_id"],
        wonde_domain=sandbox.base_url.split("/")[2],
        wonde_token_encrypted=box.encrypt(wonde_school["token"]),
    )
    async with committed.sessionmaker() as session:
        session.add(school)
        await session.commit()
    return school_id


async def _read(committed: Committed, wonde: WondeClient, box: SecretBox, school_id: str, kind: str) -> SyncRun:
    async with committed.sessionmaker() as session:
        run = SyncRun(school_id=school_id, kind=kind, trigger="manual", status="queued")
        session.add(run)
        await session.commit()
    await run_read(committed.sessionmaker, wonde, box, run.id)
    async with committed.sessionmaker() as session:
        finished = await session.get(SyncRun, run.id)
    assert finished is not None
    return finished


async def _snapshot(committed: Committed, school_id: str, *, with_timestamps: bool = False) -> dict[str, Any]:
    """The mirror by Wonde ids (live and deleted), optionally with every row's updated_at."""

    def stamp(row: Any) -> tuple[Any, ...]:
        return (row.deleted_at is None, row.updated_at) if with_timestamps else (row.deleted_at is None,)

    async with committed.sessionmaker() as session:
        students = {
            s.wonde_id: (
                s.forename,
                s.surname,
                s.legal_forename,
                s.legal_surname,
                s.year_group,
                s.upn,
                s.upi,
                *stamp(s),
            )
            for s in await session.scalars(select(MisStudent).where(MisStudent.school_id == school_id))
        }
        classes = {
            c.wonde_id: (c.name, c.year_group, *stamp(c))
            for c in await session.scalars(select(MisClass).where(MisClass.school_id == school_id))
        }
        groups = {
            g.wonde_id: (g.name, g.type, g.year_group, *stamp(g))
            for g in await session.scalars(select(MisGroup).where(MisGroup.school_id == school_id))
        }
        rows = await session.execute(
            select(
                MisStudent.wonde_id,
                MisClass.wonde_id,
                MisGroup.wonde_id,
                MisMembership.deleted_at,
                MisMembership.updated_at,
            )
            .select_from(MisMembership)
            .join(MisStudent, MisStudent.id == MisMembership.mis_student_id)
            .outerjoin(MisClass, MisClass.id == MisMembership.mis_class_id)
            .outerjoin(MisGroup, MisGroup.id == MisMembership.mis_group_id)
            .where(MisMembership.school_id == school_id)
        )
        members = {
            (s, c, g): (deleted is None, updated) if with_timestamps else (deleted is None,)
            for s, c, g, deleted, updated in rows
        }
    return {"students": students, "classes": classes, "groups": groups, "members": members}


NOTHING = {"inserted": 0, "updated": 0, "deleted": 0}


def _unchanged(run: SyncRun) -> bool:
    return all(run.counts[kind] == NOTHING for kind in ("students", "classes", "groups", "memberships"))


async def test_a_full_read_of_a_2000_pupil_school_then_a_second_that_changes_nothing(
    committed: Committed, wonde: WondeClient, box: SecretBox, sandbox: SandboxServer, big_school: dict[str, Any]
) -> None:
    school_id = await _connect(committed, box, sandbox, big_school)
    first = await _read(committed, wonde, box, school_id, "full_read")
    assert first.status == "succeeded", first.error
    assert first.counts["students"]["inserted"] == 2000
    assert first.counts["classes"]["inserted"] > 50
    assert first.counts["memberships"]["inserted"] >= 2000 * 4
    assert first.requests_made >= 2000 // 200 + 2
    assert first.counts["wonde_responses"] == {"200": first.requests_made}
    assert first.progress == {"phase": "done", "pages": first.requests_made, "students": 2000}
    snapshot = await _snapshot(committed, school_id, with_timestamps=True)
    assert sum(1 for s in snapshot["students"].values() if s[-2]) == 2000

    second = await _read(committed, wonde, box, school_id, "full_read")
    assert second.status == "succeeded"
    assert _unchanged(second), second.counts
    assert await _snapshot(committed, school_id, with_timestamps=True) == snapshot
    await _no_gender_or_birth_date_stored(committed, sandbox, big_school["school_id"], school_id)


async def _no_gender_or_birth_date_stored(
    committed: Committed, sandbox: SandboxServer, wonde_school: str, school_id: str
) -> None:
    """The school grants gender and dates of birth, and Wonde sent them with every pupil; no row of any
    table of the school holds either (data minimisation: the product needs neither)."""
    pupils = list(sandbox.state.school(wonde_school).students.values())
    assert sandbox.state.school(wonde_school).personal_details
    births = {str(p.date_of_birth) for p in pupils if p.date_of_birth}
    assert len(births) > 300 and {p.gender for p in pupils} == {"MALE", "FEMALE"}
    async with committed.sessionmaker() as session:
        tables = await session.scalars(
            text("SELECT table_name FROM information_schema.columns WHERE column_name = 'school_id'")
        )
        stored = ""
        for table in sorted(set(tables)):
            rows = await session.scalars(
                text(f"SELECT to_jsonb(t)::text FROM {table} t WHERE school_id = :school"),  # noqa: S608 (catalogue names)
                {"school": school_id},
            )
            stored += "\n".join(rows)
    assert all(str(p.upn) in stored for p in pupils)  # every pupil's row was searched
    assert "FEMALE" not in stored and '"MALE"' not in stored
    assert not {day for day in births if day in stored}


EVENTS: list[dict[str, Any]] = [
    {"kind": "joiner"},
    {"kind": "joiner", "year": 9},
    {"kind": "leaver"},
    {"kind": "leaver"},
    {"kind": "rename"},
    {"kind": "move"},
    {"kind": "move"},
    {"kind": "change_year", "year": 10},
]


@pytest.mark.parametrize("rosters_undated", [False, True], ids=["classes-dated", "rosters-undated"])
async def test_after_mis_events_a_delta_read_equals_a_full_read(
    committed: Committed,
    wonde: WondeClient,
    box: SecretBox,
    sandbox: SandboxServer,
    small_school: dict[str, Any],
    rosters_undated: bool,
) -> None:
    """Also when Wonde's ``classes?updated_after`` leaves out a class whose only change is a new pupil
    (and so for groups): who is in a class is read from each pupil's own record, never from the class's."""
    school_id = await _connect(committed, box, sandbox, small_school)
    assert (await _read(committed, wonde, box, school_id, "full_read")).status == "succeeded"
    if rosters_undated:
        for endpoint in ("classes", "groups"):
            rule = {"kind": "rosters_undated", "endpoint": endpoint, "school_id": small_school["school_id"]}
            _admin(sandbox, "POST", "/faults", rule | {"times": -1})
    # Leavers are pupils the first read saw: one chosen at random could be a joiner of this very delta
    # (never inserted, then), which made the counts below flaky.
    leavers = iter(sorted((await _snapshot(committed, school_id))["students"]))
    for event in EVENTS:
        chosen = {"student_id": next(leavers)} if event["kind"] == "leaver" else {}
        _admin(sandbox, "POST", f"/schools/{small_school['school_id']}/events", event | chosen)
    left = _admin(
        sandbox, "POST", f"/schools/{small_school['school_id']}/events", {"kind": "leaver", "student_id": next(leavers)}
    )
    returned_id = next(iter(_ids(left)), None)
    if returned_id:
        _admin(
            sandbox,
            "POST",
            f"/schools/{small_school['school_id']}/events",
            {"kind": "return", "student_id": returned_id},
        )

    delta = await _read(committed, wonde, box, school_id, "delta_read")
    assert delta.status == "succeeded", delta.error
    assert delta.kind == "delta_read"
    assert delta.counts["students"]["inserted"] == 2
    assert delta.counts["students"]["deleted"] >= 2
    after_delta = await _snapshot(committed, school_id)

    full = await _read(committed, wonde, box, school_id, "full_read")
    _admin(sandbox, "DELETE", "/faults")  # (a rule left by a failure above hits only this test's school)
    assert full.status == "succeeded"
    assert await _snapshot(committed, school_id) == after_delta  # names, years and memberships alike
    if not rosters_undated:
        assert _unchanged(full), full.counts  # the delta left nothing for a full read to do
    else:  # what the delta could not see is only the Wonde timestamps of the classes and groups it was left
        assert all(full.counts[kind] == NOTHING for kind in ("students", "memberships")), full.counts
        assert all(full.counts[kind]["inserted"] == full.counts[kind]["deleted"] == 0 for kind in ("classes", "groups"))


def _ids(description: Any) -> list[str]:
    """Student ids named in an event description, whatever its exact shape."""
    if isinstance(description, dict):
        found: list[str] = []
        for key, value in description.items():
            if key in ("student_id", "id") and isinstance(value, str):
                found.append(value)
            elif isinstance(value, dict | list):
                found += _ids(value)
        return found
    if isinstance(description, list):
        return [i for item in description for i in _ids(item)]
    return []


FAULT_STATUS = {"429": "429", "500": "500", "slow": "timeout", "truncated": "200", "401": "401"}


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "429", "retry_after": 0},
        {"kind": "500"},
        {"kind": "slow", "seconds": 1.5},
        {"kind": "truncated"},
        {"kind": "401"},
    ],
    ids=["429", "500", "slow", "truncated", "401"],
)
async def test_a_fault_on_a_middle_page_changes_nothing_and_the_next_read_succeeds(
    committed: Committed,
    wonde: WondeClient,
    box: SecretBox,
    sandbox: SandboxServer,
    small_school: dict[str, Any],
    fault: dict[str, Any],
) -> None:
    school_id = await _connect(committed, box, sandbox, small_school)
    assert (await _read(committed, wonde, box, school_id, "full_read")).status == "succeeded"
    for event in ({"kind": "leaver"}, {"kind": "joiner"}, {"kind": "rename"}):
        _admin(sandbox, "POST", f"/schools/{small_school['school_id']}/events", event)
    before = await _snapshot(committed, school_id, with_timestamps=True)

    _admin(sandbox, "POST", "/faults", {**fault, "endpoint": "students", "page": 2, "times": -1})
    try:
        failed = await _read(committed, wonde, box, school_id, "full_read")
    finally:
        _admin(sandbox, "DELETE", "/faults")
    assert failed.status == "failed"
    assert failed.error
    assert await _snapshot(committed, school_id, with_timestamps=True) == before
    # The failed run keeps how its requests ended; the faulty page's answer is among them.
    answered = failed.counts["wonde_responses"]
    assert answered[FAULT_STATUS[fault["kind"]]] >= 1
    assert sum(answered.values()) == failed.requests_made
    assert failed.progress["phase"] == "failed"

    recovered = await _read(committed, wonde, box, school_id, "full_read")
    assert recovered.status == "succeeded", recovered.error
    assert recovered.counts["students"]["inserted"] == 1
    assert recovered.counts["students"]["deleted"] == 1
