"""Helpers the fault and concurrency proofs share: a small onboarded school in the sandbox, a byte-for-byte
snapshot of everything a school owns, and the checks that nothing was lost or duplicated.

Every check returns the problems it found (empty when all is well) rather than raising, so a proof can
count a failing case with ``record(...)`` before it fails the test.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.crypto import SecretBox
from app.models import MisClass, School, SyncRun, UploaderDecision, WebhookEvent
from app.sync.mirror.flow import run_read
from app.sync.onboarding.flow import run_merge
from app.wonde.client import WondeClient
from app.wonde.sandbox.dump import export_dump
from app.wonde.sandbox.server import SandboxServer
from tests.conftest import Committed
from tests.sync.test_reconcile_sandbox import _assert_copycat

Sessionmaker = async_sessionmaker[AsyncSession]

# Every table holding a school's rows (all but the school itself, its runs and its webhook events).
SCHOOL_TABLES = (
    "mis_students",
    "mis_classes",
    "mis_groups",
    "mis_memberships",
    "bands",
    "pupils",
    "band_memberships",
    "changes",
    "credentials",
    "uploader_decisions",
)


def admin(sandbox: SandboxServer, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call the sandbox's admin API (``/admin``)."""
    response = httpx.request(method, f"{sandbox.admin_url}{path}", json=body, timeout=60)
    response.raise_for_status()
    return response.json()


async def add_run(sessionmaker: Sessionmaker, school_id: str, kind: str, trigger: str = "manual") -> uuid.UUID:
    async with sessionmaker() as session:
        run = SyncRun(school_id=school_id, kind=kind, trigger=trigger, status="queued", actor="proof")
        session.add(run)
        await session.commit()
        return run.id


async def connect(
    sessionmaker: Sessionmaker, sandbox: SandboxServer, box: SecretBox, *, pupils: int, seed: int, name: str
) -> tuple[str, str]:
    """A school connected to a newly generated sandbox school (secondary); (our id, Wonde's id)."""
    generated = admin(sandbox, "POST", "/schools/generate", {"phase": "secondary", "pupils": pupils, "seed": seed})
    school_id = f"proof-{uuid.uuid4().hex[:10]}"
    async with sessionmaker() as session:
        session.add(
            School(
                id=school_id,
                name=name,
                state="approved",
                wonde_school_id=generated["school_id"],
                wonde_domain=sandbox.domain,
                wonde_token_encrypted=box.encrypt(generated["token"]),
            )
        )
        await session.commit()
    return school_id, generated["school_id"]


async def onboard(sessionmaker: Sessionmaker, wonde: WondeClient, box: SecretBox, school_id: str) -> None:
    """Read the connected school, import every MIS class, merge: the school is then syncing."""
    status = await run_read(sessionmaker, wonde, box, await add_run(sessionmaker, school_id, "full_read"))
    assert status == "succeeded", status
    async with sessionmaker() as session:
        for mis_class in await session.scalars(select(MisClass).where(MisClass.school_id == school_id)):
            session.add(UploaderDecision(school_id=school_id, mis_class_id=mis_class.id, action="import"))
        await session.commit()
    status = await run_merge(sessionmaker, box, await add_run(sessionmaker, school_id, "merge"))
    assert status == "succeeded", status


async def delete_schools(sessionmaker: Sessionmaker, school_ids: list[str]) -> None:
    async with sessionmaker() as session:
        await session.execute(delete(WebhookEvent).where(WebhookEvent.school_id.in_(school_ids)))
        await session.execute(delete(School).where(School.id.in_(school_ids)))
        await session.commit()


async def snapshot(sessionmaker: Sessionmaker, school_id: str) -> dict[str, list[str]]:
    """Every row the school owns, every column, as JSON text in a fixed order (runs apart)."""
    found: dict[str, list[str]] = {}
    async with sessionmaker() as session:
        for table in (*SCHOOL_TABLES, "schools"):
            column = "id" if table == "schools" else "school_id"
            rows = await session.scalars(
                text(f"SELECT to_jsonb(t)::text FROM {table} t WHERE t.{column} = :school ORDER BY 1"),  # noqa: S608
                {"school": school_id},
            )
            found[table] = list(rows)
        found["sync_runs"] = list(
            await session.scalars(
                text("SELECT to_jsonb(t)::text FROM sync_runs t WHERE t.school_id = :school ORDER BY 1"),
                {"school": school_id},
            )
        )
    return found


def unchanged(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    """What differs between two snapshots, runs aside: a failed run adds its own run rows, nothing else;
    the runs that were there before are left exactly as they were."""
    problems = [f"{table} changed" for table in (*SCHOOL_TABLES, "schools") if before[table] != after[table]]
    if not set(before["sync_runs"]) <= set(after["sync_runs"]):
        problems.append("an earlier run changed")
    return problems


async def duplicates(sessionmaker: Sessionmaker, school_id: str) -> list[str]:
    """Two accounts for one student, a pupil with no student (every pupil here comes from the MIS),
    two bands for one class, a membership twice, a mirror row twice."""
    checks = {
        "a student with two accounts": """
            SELECT count(*) FROM (SELECT mis_student_id FROM pupils WHERE school_id = :school
            AND mis_student_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d""",
        "an account with no student": """
            SELECT count(*) FROM pupils WHERE school_id = :school AND mis_student_id IS NULL""",
        "a class with two bands": """
            SELECT count(*) FROM (SELECT mis_class_id FROM bands WHERE school_id = :school
            AND mis_class_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d""",
        "a band membership twice": """
            SELECT count(*) FROM (SELECT band_id, pupil_id FROM band_memberships WHERE school_id = :school
            GROUP BY 1, 2 HAVING count(*) > 1) d""",
        "a student mirrored twice": """
            SELECT count(*) FROM (SELECT wonde_id FROM mis_students WHERE school_id = :school
            GROUP BY 1 HAVING count(*) > 1) d""",
        "a membership mirrored twice": """
            SELECT count(*) FROM (SELECT mis_student_id, mis_class_id, mis_group_id FROM mis_memberships
            WHERE school_id = :school GROUP BY 1, 2, 3 HAVING count(*) > 1) d""",
    }
    problems = []
    async with sessionmaker() as session:
        for name, query in checks.items():
            if found := await session.scalar(text(query), {"school": school_id}):
                problems.append(f"{found} × {name}")
    return problems


async def mirror_problems(
    sessionmaker: Sessionmaker, sandbox: SandboxServer, school_id: str, wonde_school: str
) -> list[str]:
    """Where the live mirror differs from the sandbox's school now (students and their names, classes,
    registration groups, and who is in which): what a clean full read would leave."""
    dump = export_dump(sandbox.state, wonde_school)
    forms = {g["id"] for g in dump["groups"] if g["type"] == "REGISTRATION"}
    expected = {
        "students": {s["id"]: (s["forename"], s["surname"]) for s in dump["students"]},
        "classes": {c["id"] for c in dump["classes"]},
        "groups": forms,
        "members": {(s["id"], c["id"]) for s in dump["students"] for c in s["classes"]["data"]}
        | {(s["id"], g["id"]) for s in dump["students"] for g in s["groups"]["data"] if g["id"] in forms},
    }
    async with sessionmaker() as session:
        live = "school_id = :school AND deleted_at IS NULL"
        students = {
            w: (f, s)
            for w, f, s in await session.execute(
                text(f"SELECT wonde_id, forename, surname FROM mis_students WHERE {live}"),  # noqa: S608
                {"school": school_id},
            )
        }
        classes = set(
            await session.scalars(text(f"SELECT wonde_id FROM mis_classes WHERE {live}"), {"school": school_id})  # noqa: S608
        )
        groups = set(
            await session.scalars(text(f"SELECT wonde_id FROM mis_groups WHERE {live}"), {"school": school_id})  # noqa: S608
        )
        members = {
            (s, c)
            for s, c in await session.execute(
                text(
                    """SELECT s.wonde_id, coalesce(c.wonde_id, g.wonde_id) FROM mis_memberships m
                    JOIN mis_students s ON s.id = m.mis_student_id AND s.deleted_at IS NULL
                    LEFT JOIN mis_classes c ON c.id = m.mis_class_id
                    LEFT JOIN mis_groups g ON g.id = m.mis_group_id
                    WHERE m.school_id = :school AND m.deleted_at IS NULL
                    AND coalesce(c.deleted_at, g.deleted_at) IS NULL"""
                ),
                {"school": school_id},
            )
        }
    found = {"students": students, "classes": classes, "groups": groups, "members": members}
    return [f"the mirror's {name} differ from the MIS" for name in expected if expected[name] != found[name]]


async def copycat_problems(
    sessionmaker: Sessionmaker, sandbox: SandboxServer, school_id: str, wonde_school: str
) -> list[str]:
    """Where the app differs from the copycat projection of the sandbox's school (see
    ``tests/sync/test_reconcile_sandbox.py``)."""
    try:
        await _assert_copycat(Committed(sessionmaker), sandbox, school_id, wonde_school)
    except AssertionError as exc:
        return [f"not a copy of the MIS: {exc}".splitlines()[0]]
    return []
