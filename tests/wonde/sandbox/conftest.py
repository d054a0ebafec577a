"""A sandbox per test: a reset state with one generated school, served over real HTTP on a free port.
(Here rather than in ``tests/fixtures/`` because it stands in for the ``sandbox`` fixture the other
tests share; the handle, ``Sandbox``, is in ``tests/fixtures/sandbox.py``.)"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.wonde.sandbox.dump import load_dump
from app.wonde.sandbox.server import SandboxServer, running_sandbox
from tests.fixtures.sandbox import Sandbox, generated_once


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """One server for the whole run; each test resets its state (starting uvicorn per test is slow)."""
    with running_sandbox() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[Sandbox]:
    """A 300-pupil secondary (60 a year, three forms a year, 45 classes, 20 groups), and nothing else."""
    state = sandbox_server.state
    state.reset()
    school_id = load_dump(state, generated_once("secondary", 300, 7))
    headers = {"Authorization": f"Bearer {state.school(school_id).token}"}
    with (
        httpx.Client(base_url=sandbox_server.base_url, headers=headers) as api,
        httpx.Client(base_url=sandbox_server.admin_url) as admin,
    ):
        yield Sandbox(sandbox_server, school_id, api, admin)
