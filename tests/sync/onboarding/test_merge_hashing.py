"""A merge hashes its new accounts' passwords on every core and off the event loop, and a failure
while hashing commits nothing. Speed is measured by ``bench/whole_school.py``, not asserted here: these
tests watch *how* the hashes run, with a hasher that reports on itself."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from app.config import Settings
from app.kit.crypto import SecretBox
from app.models import Pupil
from app.pupils import credentials
from app.sync.onboarding.flow import run_merge
from app.sync.runs.failures import JobFailed
from tests.fixtures.checks import rows
from tests.fixtures.database import Committed
from tests.fixtures.schools import small_school_ready_to_merge

CORES = len(os.sched_getaffinity(0))
# How long a watched hash waits for what it is watching for before giving up (and the test failing):
# a bound on a broken run, not a speed the test expects.
PATIENCE = 2.0


class Heartbeat:
    """A coroutine ticking on the event loop, as a worker's health check and its other jobs do."""

    def __init__(self) -> None:
        self.beats = 0

    async def run(self) -> None:
        while True:
            self.beats += 1
            await asyncio.sleep(0.002)


class WatchedHasher(PasswordHasher):
    """The test run's light argon2, but each hash lasts until the event loop has ticked twice and
    until as many hashes as there are cores are in flight together (or ``PATIENCE`` runs out): it
    records whether the loop kept going and how many hashes ran at once."""

    def __init__(self, heartbeat: Heartbeat) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.heartbeat = heartbeat
        self.changed = threading.Condition()
        self.in_flight = self.most_at_once = self.stalls = 0
        self.gave_up_waiting_for_company = False

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        with self.changed:
            self.in_flight += 1
            self.most_at_once = max(self.most_at_once, self.in_flight)
            self.changed.notify_all()
            if not self.gave_up_waiting_for_company:
                company = self.changed.wait_for(lambda: self.most_at_once >= CORES, timeout=PATIENCE)
                self.gave_up_waiting_for_company = not company
        try:
            started, deadline = self.heartbeat.beats, time.monotonic() + PATIENCE
            while self.heartbeat.beats < started + 2:
                if time.monotonic() > deadline:
                    self.stalls += 1
                    break
                time.sleep(0.001)
            return super().hash(password, salt=salt)
        finally:
            with self.changed:
                self.in_flight -= 1


@asynccontextmanager
async def beating(heartbeat: Heartbeat) -> AsyncIterator[None]:
    task = asyncio.create_task(heartbeat.run())
    try:
        yield
    finally:
        task.cancel()


@pytest.mark.skipif(CORES < 2, reason="one core: there is nothing to spread the hashing over")
async def test_a_merge_hashes_on_every_core_while_the_event_loop_keeps_beating(
    committed: Committed, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    school_id, run_id = await small_school_ready_to_merge(committed)  # five new accounts
    heartbeat = Heartbeat()
    hasher = WatchedHasher(heartbeat)
    monkeypatch.setattr(credentials, "_HASHER", hasher)
    async with beating(heartbeat):
        assert await run_merge(committed.sessionmaker, SecretBox(settings.encryption_key), run_id) == "succeeded"
    assert hasher.stalls == 0, f"the event loop stood still during {hasher.stalls} of the 5 hashes"
    assert hasher.most_at_once == CORES, f"hashes in flight at once: at most {hasher.most_at_once}, cores: {CORES}"
    async with committed.sessionmaker() as session:
        hashes = list(await session.scalars(select(Pupil.password_hash).where(Pupil.school_id == school_id)))
    # Hashed by the hasher the service was given (here the watched one), for real.
    assert sum(1 for h in hashes if h and h.startswith("$argon2id$v=19$m=8,t=1,p=1$")) == 5


class FailingHasher(PasswordHasher):
    """Fails on its third password, as argon2 would if it ran out of memory."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.calls = 0
        self.counting = threading.Lock()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        with self.counting:
            self.calls += 1
            failing = self.calls == 3
        if failing:
            raise MemoryError("argon2 could not allocate")
        return super().hash(password, salt=salt)


async def test_a_merge_whose_hashing_fails_half_way_commits_nothing(
    committed: Committed, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    school_id, run_id = await small_school_ready_to_merge(committed)
    before = await rows(committed.sessionmaker, school_id)
    monkeypatch.setattr(credentials, "_HASHER", FailingHasher())
    with pytest.raises(JobFailed):
        await run_merge(committed.sessionmaker, SecretBox(settings.encryption_key), run_id)
    after = await rows(committed.sessionmaker, school_id)
    assert {table: after[table] for table in after if table != "sync_runs"} == {
        table: before[table] for table in before if table != "sync_runs"
    }
