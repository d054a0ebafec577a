from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput, NotAuthenticated, PayloadTooLarge, error_responses
from app.kit.body import read_limited_body
from app.kit.crypto import SecretBox
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.webhooks.intake import secret_from_query, secret_matches, store_event

router = APIRouter(prefix="/webhooks", tags=["webhooks"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]
MAX_WEBHOOK_BYTES = 64 * 1024


class WebhookReceipt(BaseModel):
    id: str | None
    status: str


class WrongWebhookSecret(NotAuthenticated):
    """The webhook URL's secret is missing or wrong; nothing was stored."""


class UnreadableWebhook(InvalidInput):
    """The webhook body is not a JSON object that can be stored; it was recorded as rejected."""

    status_code = 400


@router.post(
    "/wonde",
    response_model=WebhookReceipt,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(WrongWebhookSecret, UnreadableWebhook, PayloadTooLarge),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}},
)
async def receive_wonde_webhook(
    request: Request,
    session: Session,
    secret: Annotated[str, Query(description="The shared secret configured in Wonde's webhook URL.")] = "",
) -> WebhookReceipt | JSONResponse:
    """Store a Wonde event, then acknowledge it; a worker acts on it. A redelivered event is stored once."""
    settings = request.app.state.settings
    if not secret_matches(
        secret_from_query(request.scope["query_string"]), settings.wonde.webhook_secret.get_secret_value()
    ):
        raise WrongWebhookSecret()
    body = await read_limited_body(request, MAX_WEBHOOK_BYTES)
    stored = await store_event(
        session,
        body,
        request.headers.get("content-type", "application/json"),
        SecretBox(settings.encryption_key),
        redelivery_window=timedelta(seconds=settings.wonde.redelivery_window_seconds),
    )
    if stored.status == "rejected":
        # Answered, not raised: the stored rejection must commit with the request.
        rejected = UnreadableWebhook(f"The webhook body cannot be read: {stored.error}; it was recorded as rejected.")
        return JSONResponse({"error": rejected.error, "detail": rejected.detail}, status_code=rejected.status_code)
    return WebhookReceipt(id=stored.event_id or None, status=stored.status)
