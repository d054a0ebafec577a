"""Processes the scale benchmarks start (the API under uvicorn, the Wonde sandbox, arq workers), the
environment that points them at a scratch database and queue, and the figures they share (percentiles,
CPU seconds of a process).

Every process is started in its own session and stopped by its id; logs go to a temporary file that
is shown only when a process fails to start (they carry ids and timings, never pupil names).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from arq.connections import ArqRedis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("BANDSYNC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
STARTUP_TIMEOUT_SECONDS = 60.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Scratch:
    """A benchmark's own database and arq queue, named from one tag."""

    tag: str
    database_url: str

    @property
    def database_name(self) -> str:
        return f"bandsync_bench_{self.tag}"

    @property
    def queue_name(self) -> str:
        return f"bandsync:bench:{self.tag}"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for a bandsync process (API or worker) using this database and queue."""
        return {
            **os.environ,
            "BANDSYNC_ENVIRONMENT": "development",
            "BANDSYNC_DATABASE_URL": self.database_url,
            "BANDSYNC_REDIS_URL": REDIS_URL,
            "BANDSYNC_QUEUE_NAME": self.queue_name,
            "BANDSYNC_LOG_LEVEL": "WARNING",
            **extra,
        }


def new_tag() -> str:
    return uuid.uuid4().hex[:8]


class Process:
    """A child process in its own session, its output in a temporary log file."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="bandsync-bench-", suffix=".log", delete=False)  # noqa: SIM115
        self.popen = subprocess.Popen(  # noqa: S603 (our own venv's programs, fixed arguments)
            list(args), cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def fail(self, what: str) -> RuntimeError:
        self.log.flush()
        tail = Path(self.log.name).read_text(errors="replace")[-3000:]
        return RuntimeError(f"{what} (exit {self.popen.poll()}); its log ends:\n{tail}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (arq and uvicorn finish what they are doing), then SIGKILL after ``timeout``."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()
        with contextlib.suppress(FileNotFoundError):
            Path(self.log.name).unlink()

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, from /proc (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _wait_until(ready: object, process: Process, what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while True:
        if not process.alive():
            raise process.fail(f"{what} exited")
        with contextlib.suppress(httpx.HTTPError, ValueError, OSError):
            if callable(ready) and ready():
                return
        if time.monotonic() > deadline:
            raise process.fail(f"{what} did not start in {STARTUP_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class ApiServer:
    process: Process
    base_url: str


@contextlib.contextmanager
def api_server(scratch: Scratch, **env: str) -> Iterator[ApiServer]:
    """The API in its own uvicorn process (one process, one event loop: one production instance), on a
    free port; yields it once /healthz answers."""
    port = free_port()
    process = Process(
        [
            str(BIN / "uvicorn"),
            "app.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        scratch.env(**env),
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200, process, "uvicorn")
        yield ApiServer(process, base_url)
    finally:
        process.stop()


@dataclass(frozen=True)
class SandboxProcess:
    process: Process
    base_url: str

    @property
    def root_url(self) -> str:
        return self.base_url.rsplit("/", 1)[0]

    @property
    def admin_url(self) -> str:
        return f"{self.root_url}/admin"

    @property
    def domain(self) -> str:
        return self.base_url.split("/")[2]


@contextlib.contextmanager
def sandbox_process() -> Iterator[SandboxProcess]:
    """``bandsync sandbox`` in its own process on a free port (so workers in other processes reach it),
    holding one tiny school; the benchmark adds its own through the admin API."""
    with tempfile.TemporaryDirectory(prefix="bandsync-bench-") as folder:
        written = Path(folder) / "school.json"
        process = Process(
            [
                str(BIN / "bandsync"),
                "sandbox",
                "--port",
                "0",
                "--phase",
                "primary",
                "--pupils",
                "10",
                "--write-school",
                str(written),
            ]
        )
        try:
            _wait_until(lambda: written.exists() and written.stat().st_size > 0, process, "the sandbox")
            yield SandboxProcess(process, json.loads(written.read_text())["base_url"])
        finally:
            process.stop()


async def drop_queue(queue_name: str, *extra_keys: str) -> None:
    """Remove a benchmark's queue, the jobs still in it, their results, and its other keys."""
    redis = ArqRedis.from_url(REDIS_URL)
    try:
        job_ids = await redis.zrange(queue_name, 0, -1)
        keys: list[str | bytes] = [queue_name, f"{queue_name}:health-check", *extra_keys]
        keys += [b"arq:job:" + job_id for job_id in job_ids]
        for start in range(0, len(keys), 500):
            await redis.delete(*keys[start : start + 500])
    finally:
        await redis.aclose()


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]
