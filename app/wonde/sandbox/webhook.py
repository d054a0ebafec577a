"""Wonde's webhooks, sent from the sandbox to the app under test (docs/wonde-api.md §6).

The sandbox first makes its own state agree with the event, so a receiver that checks it (say, by
calling ``GET /schools/{id}`` with the token from ``schoolApproved``) sees what Wonde would show:
approval opens access (a new token after a revoke), revocation closes it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

import httpx

from app.wonde.sandbox.state import SandboxState

WebhookType = Literal["schoolApproved", "accessRevoked", "schoolMigration"]
_WHEN = "%Y-%m-%d %H:%M:%S"
DELIVERY_TIMEOUT_SECONDS = 10.0


def webhook_payload(state: SandboxState, school_id: str, payload_type: WebhookType) -> dict[str, Any]:
    """The JSON body Wonde would POST for this event; applies approval or revocation to the sandbox."""
    with state.lock:
        school = state.school(school_id)
        info = school.info
        named = {"payload_type": payload_type, "school_id": school.id, "school_name": info.get("name")}
        identity = {
            "school_la_code": _text(info.get("la_code")),
            "school_urn": _text(info.get("urn")),
            "school_establishment_number": _text(info.get("establishment_number")),
        }
        if payload_type == "schoolApproved":
            return {**named, "school_token": state.approve(school_id), **identity}
        if payload_type == "accessRevoked":
            state.revoke(school_id)
            return {**named, **identity, "revoke_reason": "Access was revoked by the school."}
        now = state.clock.now()
        if school.migrated_at is not None:  # a migration event has run: report it as completed
            done = school.migrated_at.strftime(_WHEN)
            moved = {"migrate_from": school.mis_history[-1], "migrate_to": info.get("mis")}
            return {**named, **moved, "scheduled_at": done, "completed_at": done}
        scheduled = (now + timedelta(days=7)).strftime(_WHEN)
        moved = {"migrate_from": info.get("mis"), "migrate_to": "Arbor"}
        return {**named, **moved, "scheduled_at": scheduled, "completed_at": None}


async def deliver(url: str, payload: dict[str, Any]) -> int:
    """POST the payload as JSON, as Wonde does; returns the receiver's status code."""
    async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_SECONDS) as client:
        response = await client.post(url, json=payload)
    return response.status_code


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
