"""Confirm and download at the same moment (issue 17, item 5): the confirm takes the run's waiting rows
``FOR UPDATE`` and a download takes them ``FOR SHARE``, so one waits for the other: a download that comes
while a confirm is under way gets the 409 once it commits, never the passwords it is clearing; a confirm
that comes while a download is under way clears them after that download has them. Parallel downloads
never wait for each other, and each gets every row. Requests commit for real, each on its own connection;
a request is held half-way (in its journal write, after it has taken the rows) to make the race happen
every time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import record_audit
from app.config import Settings
from app.kit.crypto import SecretBox
from app.sync.onboarding.flow import run_merge
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import Committed
from tests.fixtures.schools import small_school_ready_to_merge

WAIT = 10  # seconds: the longest a step may take before the test calls it stuck


class Hold:
    """Holds the first request that journals ``action`` in its journal write (its rows taken, its
    transaction open) until ``release``."""

    def __init__(self, action: str) -> None:
        self.action, self.reached, self.released = action, asyncio.Event(), asyncio.Event()

    async def record_audit(self, session: AsyncSession, school_id: str, actor: str, entries: Sequence[Any]) -> None:
        await record_audit(session, school_id, actor, entries)
        if not self.reached.is_set() and any(entry.action == self.action for entry in entries):
            self.reached.set()
            await asyncio.wait_for(self.released.wait(), WAIT)

    async def until_reached(self) -> None:
        try:
            await asyncio.wait_for(self.reached.wait(), WAIT)
        except TimeoutError:
            raise AssertionError(f"no request journalled {self.action}") from None


async def _merged(committed: Committed, settings: Settings) -> tuple[str, str]:
    school_id, run_id = await small_school_ready_to_merge(committed)
    assert await run_merge(committed.sessionmaker, SecretBox(settings.encryption_key), run_id) == "succeeded"
    return school_id, str(run_id)


async def test_a_download_during_a_confirm_waits_for_it_then_gets_the_409(
    racing_client: httpx.AsyncClient,
    auth: TokenFactory,
    committed: Committed,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    school_id, run_id = await _merged(committed, settings)
    base = f"/v1/schools/{school_id}/runs/{run_id}/credentials"
    hold = Hold("confirm_login_details")
    monkeypatch.setattr("app.pupils.credentials.record_audit", hold.record_audit)

    confirm = asyncio.create_task(racing_client.post(f"{base}/confirm", headers=auth(school_id)))
    await hold.until_reached()
    download = asyncio.create_task(racing_client.get(base, params={"format": "json"}, headers=auth(school_id)))
    await asyncio.sleep(1)
    assert not download.done(), f"the download did not wait for the confirm: {download.result().text}"
    hold.released.set()

    confirmed, downloaded = await asyncio.wait_for(asyncio.gather(confirm, download), WAIT)
    assert (confirmed.status_code, confirmed.json()["confirmed"]) == (200, 5)
    assert (downloaded.status_code, downloaded.json()["error"]) == (409, "LoginDetailsConfirmed")


async def test_a_confirm_during_a_download_waits_until_the_download_has_them(
    racing_client: httpx.AsyncClient,
    auth: TokenFactory,
    committed: Committed,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    school_id, run_id = await _merged(committed, settings)
    base = f"/v1/schools/{school_id}/runs/{run_id}/credentials"
    hold = Hold("download_login_details")
    monkeypatch.setattr("app.pupils.credentials.record_audit", hold.record_audit)

    download = asyncio.create_task(racing_client.get(base, params={"format": "json"}, headers=auth(school_id)))
    await hold.until_reached()
    confirm = asyncio.create_task(racing_client.post(f"{base}/confirm", headers=auth(school_id)))
    await asyncio.sleep(1)
    assert not confirm.done(), f"the confirm did not wait for the download: {confirm.result().text}"
    hold.released.set()

    downloaded, confirmed = await asyncio.wait_for(asyncio.gather(download, confirm), WAIT)
    assert (downloaded.status_code, len(downloaded.json())) == (200, 5)
    assert (confirmed.status_code, confirmed.json()["confirmed"]) == (200, 5)
    journal = (await racing_client.get(f"/v1/schools/{school_id}/changes", headers=auth(school_id))).json()["items"]
    assert [e["action"] for e in journal if e["entity_type"] == "school"] == [
        "confirm_login_details",
        "download_login_details",
    ]


async def test_parallel_downloads_each_get_every_row_and_so_does_the_next(
    racing_client: httpx.AsyncClient, auth: TokenFactory, committed: Committed, settings: Settings
) -> None:
    school_id, run_id = await _merged(committed, settings)
    url = f"/v1/schools/{school_id}/runs/{run_id}/credentials"

    def download() -> Any:
        return racing_client.get(url, params={"format": "json"}, headers=auth(school_id))

    parallel = await asyncio.wait_for(asyncio.gather(*(download() for _ in range(6))), WAIT)
    after = await download()

    assert [response.status_code for response in [*parallel, after]] == [200] * 7
    seen = [sorted(d["password"] for d in response.json()) for response in [*parallel, after]]
    assert len(seen[0]) == 5
    assert seen == [seen[0]] * 7
