"""A real arq worker process for the proof tests: ``WorkerSettings``' own functions and start-up,
configured from ``BANDSYNC_*`` environment variables like any deployed worker, with a job timeout
short enough that a killed worker's in-progress key expires quickly.

Run as ``python -m tests.proof.worker_process``; ``PROOF_JOB_TIMEOUT``, ``PROOF_MAX_JOBS`` and
``PROOF_BURST`` (drain the queue, then exit) tune it.
"""

from __future__ import annotations

import os

from arq.connections import RedisSettings
from arq.worker import Worker

from app.config import get_settings
from workers.settings import WorkerSettings


def main() -> None:
    settings = get_settings()
    worker = Worker(
        functions=WorkerSettings.functions,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        queue_name=settings.queue_name,
        on_startup=WorkerSettings.on_startup,
        on_shutdown=WorkerSettings.on_shutdown,
        job_timeout=float(os.environ.get("PROOF_JOB_TIMEOUT", "30")),
        max_jobs=int(os.environ.get("PROOF_MAX_JOBS", "4")),
        keep_result=WorkerSettings.keep_result,
        burst=os.environ.get("PROOF_BURST") == "1",
        poll_delay=0.05,
    )
    worker.run()


if __name__ == "__main__":
    main()
