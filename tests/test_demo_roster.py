"""The roster ``make run`` seeds the ``demo`` school with: made from the sandbox's school (the one
``make run`` serves: a 210-pupil primary, seed 1), imported once, and with something for every part of
the uploader at once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import cli
from app.config import Settings
from app.demo_roster import CLUB, MATHS_SET, DemoRosterUnavailable, Form, FormPupil, demo_roster, seed_demo_roster
from app.models import Band, BandMembership, ChangeRow, Pupil, School
from app.sync.mirror.flow import write_read
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import Committed
from tests.fixtures.sandbox import generated
from tests.fixtures.schools import mis_read


async def _demo_school(session: AsyncSession) -> str:
    """A school whose mirror holds the school ``make run``'s sandbox serves."""
    school_id = f"demo-{uuid.uuid4().hex[:8]}"
    session.add(School(id=school_id, name="Demo Primary School", state="approved"))
    await session.flush()
    await write_read(session, school_id, mis_read(generated("primary", 210, 1)), complete=True)
    await session.commit()
    return school_id


async def _counts(session: AsyncSession, school_id: str) -> tuple[int, ...]:
    return tuple(
        [
            await session.scalar(select(func.count()).select_from(model).where(model.school_id == school_id)) or 0
            for model in (Band, Pupil, BandMembership, ChangeRow)
        ]
    )


async def test_seeding_is_idempotent(session: AsyncSession) -> None:
    school_id = await _demo_school(session)

    summary = await seed_demo_roster(session, school_id, "cli:test")
    await session.commit()
    assert summary is not None
    assert (summary.bands_created, summary.pupils_created) == (5, 102)
    seeded = await _counts(session, school_id)

    assert await seed_demo_roster(session, school_id, "cli:test") is None
    await session.commit()
    assert await _counts(session, school_id) == seeded


async def test_the_seeded_school_has_a_suggestion_for_each_part_of_the_uploader(
    session: AsyncSession, client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    school_id = await _demo_school(session)
    await seed_demo_roster(session, school_id, "cli:test")
    await session.commit()
    headers = auth(school_id)
    bands = {b.name: str(b.id) for b in await session.scalars(select(Band).where(Band.school_id == school_id))}

    response = await client.get(f"/v1/schools/{school_id}/uploader", headers=headers)
    assert response.status_code == 200, response.text
    suggested: dict[str, list[dict[str, Any]]] = {}
    for row in response.json():
        if row["suggestion"]:
            suggested.setdefault(row["suggestion"]["band_name"], []).append(row)
    # The three form bands are matched automatically, the set only suggested; the club, nothing.
    assert {name: [r["suggestion"]["status"] for r in rows] for name, rows in suggested.items()} == {
        "Class Willow": ["auto"],
        "Class Yew": ["auto"],
        "Class Laurel": ["auto"],
        MATHS_SET: ["review"],
    }
    assert CLUB in bands and CLUB not in suggested

    # The admin accepts every suggestion.
    for rows in suggested.values():
        for row in rows:
            decision = {"action": "match", "band_id": row["suggestion"]["band_id"]}
            put = await client.put(
                f"/v1/schools/{school_id}/uploader/classes/{row['wonde_class_id']}", json=decision, headers=headers
            )
            assert put.status_code == 200, put.text

    issues = (await client.get(f"/v1/schools/{school_id}/uploader/issues", headers=headers)).json()
    doubtful = [s for s in issues["students"] if s["candidates"]]
    assert len(doubtful) >= 2
    assert all(s["merge_will"] == "wait for your decision" for s in doubtful)
    assert issues["unresolved"] == len(doubtful)

    preview = (await client.get(f"/v1/schools/{school_id}/uploader/preview", headers=headers)).json()
    assert len(preview["pupils_to_link"]) >= 80  # linked automatically
    assert (MATHS_SET, 4) in [(w["band_name"], w["pupils_leaving"]) for w in preview["warnings"]]

    # The admin links each doubtful student to the account suggested: the set still warns, and so does
    # the band of the child the MIS has moved up a form (who leaves it for the band of their new form).
    for student in doubtful:
        link = {"resolution": "link", "pupil_id": student["candidates"][0]["pupil_id"]}
        put = await client.put(
            f"/v1/schools/{school_id}/uploader/pupils/{student['wonde_student_id']}", json=link, headers=headers
        )
        assert put.status_code == 200, put.text
    preview = (await client.get(f"/v1/schools/{school_id}/uploader/preview", headers=headers)).json()
    assert preview["unresolved"] == 0
    assert sorted((w["band_name"], w["pupils_leaving"]) for w in preview["warnings"]) == [
        ("Class Willow", 1),
        (MATHS_SET, 4),
    ]
    assert bands[CLUB] not in {b["band_id"] for b in preview["bands_to_link"]}


def test_the_roster_needs_enough_forms() -> None:
    forms = [Form(f"F{i}", i, tuple(FormPupil(f"S{i}-{j}", "Ann", f"Lee{j}") for j in range(20))) for i in range(3)]
    with pytest.raises(DemoRosterUnavailable):
        demo_roster(forms)


def test_the_same_forms_give_the_same_roster() -> None:
    forms = [Form(f"F{i}", i, tuple(FormPupil(f"S{i}-{j}", "Ann", f"Lee{j}") for j in range(20))) for i in range(6)]
    assert demo_roster(forms) == demo_roster(list(reversed(forms)))


def test_seed_demo_from_the_command_line(
    settings: Settings, committed: Committed, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    school_id = committed.track(f"demo-{uuid.uuid4().hex[:8]}")
    assert cli.main(["seed-demo", "--school", school_id]) == 2
    assert cli.main(["create-school", "--id", school_id, "--name", "Demo Primary School", "--urn", "100400"]) == 0
    assert cli.main(["seed-demo", "--school", school_id]) == 1  # not read yet: no forms
    assert "needs 4 forms" in capsys.readouterr().err

    async def read() -> None:
        async with committed.sessionmaker() as session:
            await write_read(session, school_id, mis_read(generated("primary", 210, 1)), complete=True)
            await session.commit()

    asyncio.run(read())
    assert cli.main(["seed-demo", "--school", school_id]) == 0
    assert "the demo roster imported, 102 pupils in 5 bands" in capsys.readouterr().out
    assert cli.main(["seed-demo", "--school", school_id]) == 0
    assert "already has bands or pupils: its roster is left as it is" in capsys.readouterr().out
