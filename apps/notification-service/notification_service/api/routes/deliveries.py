"""My webhook deliveries across all my subscriptions: what one event caused, in one call."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from notification_service.api.routes.common import AUTH, DeliveryLogDep
from notification_service.schemas import DeliveryPage

router = APIRouter(prefix="/api/v1/deliveries", tags=["webhooks"], responses=AUTH)


@router.get(
    "",
    response_model=DeliveryPage,
    summary="My webhook deliveries (every subscription of mine), newest first",
)
async def list_my_deliveries(log: DeliveryLogDep) -> JSONResponse:
    return await log.read(webhook_id=None)
