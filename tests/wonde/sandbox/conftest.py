"""A sandbox per test: a reset state with one generated school, served over real HTTP on a free port."""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.wonde.sandbox.dump import load_dump
from app.wonde.sandbox.generate import Phase, generate_school
from app.wonde.sandbox.records import SandboxSchool
from app.wonde.sandbox.server import SandboxServer, running_sandbox
from app.wonde.sandbox.state import SandboxState


@functools.cache
def _generated(phase: Phase, pupils: int, seed: int) -> dict[str, Any]:
    return generate_school(phase, pupils, seed)


def generated(phase: Phase, pupils: int, seed: int) -> dict[str, Any]:
    """A generated dump, made once per run; each caller gets its own copy."""
    return copy.deepcopy(_generated(phase, pupils, seed))


@dataclass
class Sandbox:
    server: SandboxServer
    school_id: str
    api: httpx.Client  # authorised with the school's token
    admin: httpx.Client

    @property
    def state(self) -> SandboxState:
        return self.server.state

    @property
    def school(self) -> SandboxSchool:
        return self.state.school(self.school_id)

    @property
    def token(self) -> str:
        return self.school.token

    def path(self, endpoint: str = "") -> str:
        return f"/schools/{self.school_id}{endpoint}"

    def get(self, endpoint: str, **params: Any) -> Any:
        response = self.api.get(self.path(endpoint), params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def walk(self, endpoint: str, **params: Any) -> list[dict[str, Any]]:
        """Every record, following ``meta.pagination.next`` the way Wonde's clients do."""
        body = self.get(endpoint, **params)
        records: list[dict[str, Any]] = list(body["data"])
        while (body["meta"].get("pagination") or {}).get("next"):
            response = self.api.get(body["meta"]["pagination"]["next"])
            assert response.status_code == 200, response.text
            body = response.json()
            records += body["data"]
        return records


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
    school_id = load_dump(state, _generated("secondary", 300, 7))
    headers = {"Authorization": f"Bearer {state.school(school_id).token}"}
    with (
        httpx.Client(base_url=sandbox_server.base_url, headers=headers) as api,
        httpx.Client(base_url=sandbox_server.admin_url) as admin,
    ):
        yield Sandbox(sandbox_server, school_id, api, admin)
