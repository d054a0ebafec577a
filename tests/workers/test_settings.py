"""``WorkerSettings`` serves every job of ``app.kit.jobs``' table, under the table's name."""

from __future__ import annotations

from datetime import UTC

from arq.cron import CronJob
from arq.worker import Function

from app.kit.jobs import CRONS, JOBS
from workers.jobs import CRON_FUNCTIONS, FUNCTIONS
from workers.settings import WorkerSettings


def test_every_job_in_the_table_has_a_function_in_worker_settings() -> None:
    functions = {f.name: f.coroutine for f in WorkerSettings.functions if isinstance(f, Function)}
    assert len(functions) == len(WorkerSettings.functions)
    assert functions == {spec.name: FUNCTIONS[spec] for spec in JOBS}
    assert set(FUNCTIONS) == set(JOBS)


def test_every_cron_job_in_the_table_is_scheduled_under_its_name() -> None:
    crons = {c.name: c for c in WorkerSettings.cron_jobs if isinstance(c, CronJob)}
    assert len(crons) == len(WorkerSettings.cron_jobs)
    assert set(crons) == {spec.name for spec in CRONS}
    assert set(CRON_FUNCTIONS) == set(CRONS)
    for spec in CRONS:
        job = crons[spec.name]
        assert (job.coroutine, job.minute, job.hour, job.unique, job.run_at_startup) == (
            CRON_FUNCTIONS[spec],
            set(spec.minute),
            set(spec.hour) if spec.hour is not None else None,
            True,
            spec.run_at_startup,
        )


def test_cron_hours_are_utc() -> None:
    assert WorkerSettings.timezone == UTC


def test_job_functions_are_named_after_their_jobs() -> None:
    """Tests and benchmarks hand arq the bare functions, which arq registers under their own names."""
    assert {spec.name: FUNCTIONS[spec].__name__ for spec in JOBS} == {spec.name: spec.name for spec in JOBS}
    assert {spec.name: "cron:" + CRON_FUNCTIONS[spec].__name__ for spec in CRONS} == {s.name: s.name for s in CRONS}
