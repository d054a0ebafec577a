"""The job queue, over real Redis: jobs sent with their ids (a second copy of a waiting job is dropped),
their state read back, and a finished job forgotten so that its id can be sent again."""

from __future__ import annotations

from typing import Any

from app.config import Settings
from app.kit.jobs import Job, JobQueue
from tests.fixtures.worker import run_burst_worker

DONE: list[str] = []


async def kit_echo(ctx: dict[str, Any], text: str) -> str:
    DONE.append(text)
    return text


async def test_a_job_is_sent_once_per_id_run_and_forgotten(queue: JobQueue, settings: Settings) -> None:
    job = Job("kit_echo", ("ab",), "echo:1")
    assert await queue.state("echo:1") == "not_found"
    await queue.send([job, job])
    assert await queue.state("echo:1") == "queued"
    assert len(await queue.redis.zrange(queue.queue_name, 0, -1)) == 1  # the copy was dropped

    DONE.clear()
    await run_burst_worker(settings.model_copy(update={"queue_name": queue.queue_name}), [kit_echo])
    assert DONE == ["ab"]
    assert await queue.state("echo:1") == "complete"
    await queue.send([job])  # a finished job's kept result still holds its id
    assert await queue.state("echo:1") == "complete"

    await queue.forget("echo:1")
    assert await queue.state("echo:1") == "not_found"
    await queue.send([job])
    assert await queue.state("echo:1") == "queued"
