"""My webhook deliveries across all my subscriptions: what one event caused, in one call."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from notification_service.api.deps import SettingsDep, UserIdDep
from notification_service.api.routes.common import AUTH, LogQueryDep, delivery_log
from notification_service.schemas import DeliveryPage
from taskplane_common.db import DatabaseDep

router = APIRouter(prefix="/api/v1/deliveries", tags=["webhooks"])


@router.get(
    "",
    response_model=DeliveryPage,
    responses=AUTH,
    summary="My webhook deliveries (every subscription of mine), newest first",
)
async def list_my_deliveries(
    database: DatabaseDep, settings: SettingsDep, owner: UserIdDep, query: LogQueryDep
) -> JSONResponse:
    return await delivery_log(database, settings, owner, None, query)
