"""FastAPI dependencies shared by the Wonde routes and the admin routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.wonde.sandbox.state import SandboxState


def sandbox_state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


Sandbox = Annotated[SandboxState, Depends(sandbox_state)]
