"""Downloading the login details a merge made (issue 17, item 5): a download never clears them, so they
can be downloaded in any format, any number of times, whole or one band at a time, until the admin
confirms them (then 409 ``LoginDetailsConfirmed``); the run says how many are waiting. Every download is
journalled (who, which run, which format, which band, how many rows) on the school's journal and on each
pupil's timeline; no format is ever cached; and the CSV is safe to open in a spreadsheet (no cell starts a
formula), shows every name as written (a UTF-8 BOM), and has each pupil's class."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.config import Settings
from app.kit.crypto import SecretBox
from app.models import Band, Credential, SyncRun
from app.sync.onboarding.flow import run_merge
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import savepoint_sessionmaker
from tests.fixtures.pdf import page_texts
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


async def _merged(
    session: AsyncSession, connection: AsyncConnection, settings: Settings, *, maths: bool = False
) -> tuple[str, str]:
    """``small_school`` with 4C's names as above, merged (4C imported, and with ``maths`` the maths set
    4x/Ma1 too: three of 4B's pupils and three of 4C's): (school id, run id)."""
    school = await small_school(session)
    for student, (first, last) in zip(school.students[5:], MIS_NAMES, strict=True):
        student.forename, student.surname = first, last
    session.add_all([decide(school, school.form, "match", school.band), decide(school, school.other_form, "import")])
    if maths:
        session.add(decide(school, school.maths, "import"))
    run = SyncRun(school_id=school.school_id, kind="merge", trigger="manual", status="queued")
    session.add(run)
    await session.commit()
    box = SecretBox(settings.encryption_key)
    assert await run_merge(savepoint_sessionmaker(connection), box, run.id) == "succeeded"
    return school.school_id, str(run.id)


@pytest.fixture
async def merged(session: AsyncSession, connection: AsyncConnection, settings: Settings) -> tuple[str, str]:
    """``small_school`` merged with 4C imported: (school id, run id)."""
    return await _merged(session, connection, settings)


async def _school_entries(client: httpx.AsyncClient, school_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The school's own journal entries (the downloads and confirmations), newest first."""
    journal = (await client.get(f"/v1/schools/{school_id}/changes", headers=headers)).json()["items"]
    return [entry for entry in journal if entry["entity_type"] == "school"]


def _csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.content.startswith(BOM)
    return list(csv.reader(io.StringIO(response.content[len(BOM) :].decode("utf-8"), newline="")))


async def test_the_csv_escapes_formulas_and_starts_with_a_bom(
    client: httpx.AsyncClient, auth: TokenFactory, merged: tuple[str, str]
) -> None:
    school_id, run_id = merged
    response = await client.get(f"/v1/schools/{school_id}/runs/{run_id}/credentials", headers=auth(school_id))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = _csv_rows(response)
    assert rows[0] == ["first_name", "last_name", "class", "username", "password"]
    names = sorted((first, last) for first, last, _, _, _ in rows[1:])
    assert names == sorted(
        [
            ("'=cmd|'/c calc'!A1", "Fischer"),
            ("Zoë", "'+Castellano"),
            ("'@SUM(1+1)", "MacLeod"),
            ("Zain", "'-Qureshi"),
            ("Isaac", "Doyle"),
        ]
    )
    assert {row[2] for row in rows[1:]} == {"4C"}  # the band the import made
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)


async def test_login_details_stay_downloadable_in_every_format_until_confirmed(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession, merged: tuple[str, str]
) -> None:
    school_id, run_id = merged
    base = f"/v1/schools/{school_id}/runs/{run_id}"
    headers = auth(school_id, subject=ADMIN)
    assert (await client.get(base, headers=headers)).json()["credentials_waiting"] == 5

    first_csv = _csv_rows(await client.get(f"{base}/credentials", headers=headers))
    as_json = (await client.get(f"{base}/credentials", params={"format": "json"}, headers=headers)).json()
    pdf = await client.get(f"{base}/credentials", params={"format": "pdf"}, headers=headers)
    again = _csv_rows(await client.get(f"{base}/credentials", headers=headers))

    # The CSV first, then the JSON, the PDF and the CSV again: the same five children, the same passwords.
    passwords = sorted(detail["password"] for detail in as_json)
    assert len(passwords) == 5
    assert sorted(row[4] for row in first_csv[1:]) == sorted(row[4] for row in again[1:]) == passwords
    [sheet] = page_texts(pdf.content)
    assert [text for text in sheet if text in passwords] == sorted(
        passwords, key=lambda p: [d["password"] for d in as_json].index(p)
    )
    assert (await client.get(base, headers=headers)).json()["credentials_waiting"] == 5

    confirmed = await client.post(f"{base}/credentials/confirm", headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirmed"] == 5
    assert (await client.get(base, headers=headers)).json()["credentials_waiting"] == 0
    for format in ("csv", "json", "pdf"):
        gone = await client.get(f"{base}/credentials", params={"format": format}, headers=headers)
        assert gone.status_code == 409, format
        assert gone.json()["error"] == "LoginDetailsConfirmed"
    # Confirming twice changes nothing, and says when they were confirmed.
    twice = await client.post(f"{base}/credentials/confirm", headers=headers)
    assert (twice.status_code, twice.json()["confirmed"]) == (200, 0)
    assert twice.json()["confirmed_at"] == confirmed.json()["confirmed_at"]
    waiting = await session.scalar(
        select(func.count()).select_from(Credential).where(Credential.password_encrypted.is_not(None))
        .where(Credential.run_id == uuid.UUID(run_id))
    )  # fmt: skip
    assert waiting == 0
    confirmations = await _school_entries(client, school_id, headers)
    assert [(e["action"], e["actor"], e["after"]) for e in confirmations][:2] == [
        ("confirm_login_details", ADMIN, {"run_id": run_id, "rows": 0}),
        ("confirm_login_details", ADMIN, {"run_id": run_id, "rows": 5}),
    ]


async def test_a_download_per_band_with_each_pupils_class(
    client: httpx.AsyncClient,
    auth: TokenFactory,
    session: AsyncSession,
    connection: AsyncConnection,
    settings: Settings,
    other_school: Any,
) -> None:
    school_id, run_id = await _merged(session, connection, settings, maths=True)
    bands = {band.name: band.id for band in await session.scalars(select(Band).where(Band.school_id == school_id))}
    url = f"/v1/schools/{school_id}/runs/{run_id}/credentials"
    headers = auth(school_id)

    maths = await client.get(url, params={"format": "json", "band_id": str(bands["4x/Ma1"])}, headers=headers)
    form = await client.get(url, params={"format": "json", "band_id": str(bands["4C"])}, headers=headers)
    everyone = _csv_rows(await client.get(url, headers=headers))
    sheet = await client.get(url, params={"format": "pdf", "band_id": str(bands["4x/Ma1"])}, headers=headers)

    # The maths set holds three of the five new accounts (and three older ones, which have no login details).
    assert sorted((d["first_name"], d["band"]) for d in maths.json()) == [
        ("=cmd|'/c calc'!A1", "4x/Ma1"),  # JSON gives names as written: only the CSV guards spreadsheets
        ("@SUM(1+1)", "4x/Ma1"),
        ("Zoë", "4x/Ma1"),
    ]
    assert {d["band"] for d in form.json()} == {"4C"}
    assert len(form.json()) == 5
    # Whole, each row's class is the pupil's first band by name; a sheet per band asked for.
    assert [row[2] for row in everyone[1:]] == ["4C"] * 5
    [page] = page_texts(sheet.content)
    assert page[0] == "Small Primary - 4x/Ma1"
    # A band the school does not have (or another school's) is a 404 naming it.
    stranger = Band(school_id=other_school.id, name="4C")
    session.add(stranger)
    await session.commit()
    for band_id in (uuid.uuid4(), stranger.id):
        missing = await client.get(url, params={"band_id": str(band_id)}, headers=headers)
        assert (missing.status_code, missing.json()["error"]) == (404, "BandNotFound")
    downloads = [e["after"] for e in await _school_entries(client, school_id, headers)][::-1]
    assert downloads[:2] == [
        {"run_id": run_id, "format": "json", "band_id": str(bands["4x/Ma1"]), "rows": 3},
        {"run_id": run_id, "format": "json", "band_id": str(bands["4C"]), "rows": 5},
    ]


async def test_every_download_is_journalled_and_no_format_is_cached(
    client: httpx.AsyncClient, auth: TokenFactory, merged: tuple[str, str]
) -> None:
    school_id, run_id = merged
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
        for e in await _school_entries(client, school_id, auth(school_id))
    ] == [
        ("download_login_details", ADMIN, None, "school", school_id, {"run_id": run_id, "format": f, "rows": 5})
        for f in ("csv", "pdf", "json")
    ]
    # Each child whose password was handed out has each download on their timeline; no password is in the journal.
    for detail in details:
        timeline = (
            await client.get(f"/v1/schools/{school_id}/pupils/{detail['pupil_id']}/timeline", headers=auth(school_id))
        ).json()
        assert [(e["action"], e["actor"], e["run_id"], e["after"]) for e in timeline][-3:] == [
            ("download_login_details", ADMIN, None, {"run_id": run_id, "format": f}) for f in ("json", "pdf", "csv")
        ]
    shown = json.dumps(journal)
    assert [d["password"] for d in details if d["password"] in shown] == []
