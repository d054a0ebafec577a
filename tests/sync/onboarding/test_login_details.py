"""Downloading the login details a merge made: every download is journalled (who, which run, which format,
how many rows) on the school's journal and on each pupil's timeline; no format is ever cached; and the CSV
is safe to open in a spreadsheet (no cell starts a formula) and shows every name as written (a UTF-8 BOM)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.config import Settings
from app.kit.crypto import SecretBox
from app.models import SyncRun
from app.sync.onboarding.flow import run_merge
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import savepoint_sessionmaker
from tests.fixtures.schools import decide, small_school

ADMIN = "ms.khan@oak.example"
BOM = b"\xef\xbb\xbf"
# Names as an MIS may hold them (4C's five children, whom the merge gives accounts).
MIS_NAMES = [
    ("=cmd|'/c calc'!A1", "Fischer"),
    ("Zoë", "+Castellano"),
    ("@SUM(1+1)", "MacLeod"),
    ("Zain", "-Qureshi"),
    ("Isaac", "Doyle"),
]


async def _merged(session: AsyncSession, connection: AsyncConnection, settings: Settings) -> tuple[str, str]:
    """``small_school`` with 4C's names as above, merged (4C imported): (school id, run id)."""
    school = await small_school(session)
    for student, (first, last) in zip(school.students[5:], MIS_NAMES, strict=True):
        student.forename, student.surname = first, last
    session.add_all([decide(school, school.form, "match", school.band), decide(school, school.other_form, "import")])
    run = SyncRun(school_id=school.school_id, kind="merge", trigger="manual", status="queued")
    session.add(run)
    await session.commit()
    box = SecretBox(settings.encryption_key)
    assert await run_merge(savepoint_sessionmaker(connection), box, run.id) == "succeeded"
    return school.school_id, str(run.id)


async def test_the_csv_escapes_formulas_and_starts_with_a_bom(
    client: httpx.AsyncClient,
    auth: TokenFactory,
    session: AsyncSession,
    connection: AsyncConnection,
    settings: Settings,
) -> None:
    school_id, run_id = await _merged(session, connection, settings)
    response = await client.get(f"/v1/schools/{school_id}/runs/{run_id}/credentials", headers=auth(school_id))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(BOM)
    rows = list(csv.reader(io.StringIO(response.content[len(BOM) :].decode("utf-8"), newline="")))
    assert rows[0] == ["first_name", "last_name", "username", "password"]
    names = sorted((first, last) for first, last, _, _ in rows[1:])
    assert names == sorted(
        [
            ("'=cmd|'/c calc'!A1", "Fischer"),
            ("Zoë", "'+Castellano"),
            ("'@SUM(1+1)", "MacLeod"),
            ("Zain", "'-Qureshi"),
            ("Isaac", "Doyle"),
        ]
    )
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)


async def test_every_download_is_journalled_and_no_format_is_cached(
    client: httpx.AsyncClient,
    auth: TokenFactory,
    session: AsyncSession,
    connection: AsyncConnection,
    settings: Settings,
) -> None:
    school_id, run_id = await _merged(session, connection, settings)
    url = f"/v1/schools/{school_id}/runs/{run_id}/credentials"
    downloads = {}
    for format in ("json", "pdf", "csv"):
        downloads[format] = await client.get(url, params={"format": format}, headers=auth(school_id, subject=ADMIN))
        assert downloads[format].status_code == 200, format
        assert downloads[format].headers["cache-control"] == "no-store", format
    details: list[dict[str, Any]] = downloads["json"].json()
    assert len(details) == 5

    journal = (await client.get(f"/v1/schools/{school_id}/changes", headers=auth(school_id))).json()["items"]
    assert [
        (e["action"], e["actor"], e["run_id"], e["entity_type"], e["entity_id"], e["after"])
        for e in journal
        if e["entity_type"] == "school"
    ] == [
        ("download_login_details", ADMIN, None, "school", school_id, {"run_id": run_id, "format": f, "rows": n})
        for f, n in (("csv", 0), ("pdf", 0), ("json", 5))
    ]
    # Each child whose password was handed out has it on their timeline; no password is in the journal.
    for detail in details:
        timeline = (
            await client.get(f"/v1/schools/{school_id}/pupils/{detail['pupil_id']}/timeline", headers=auth(school_id))
        ).json()
        assert [(e["action"], e["actor"], e["run_id"], e["after"]) for e in timeline][-1] == (
            "download_login_details",
            ADMIN,
            None,
            {"run_id": run_id, "format": "json"},
        )
    shown = json.dumps(journal)
    assert [d["password"] for d in details if d["password"] in shown] == []
