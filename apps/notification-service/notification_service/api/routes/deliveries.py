"""My webhook deliveries across all my subscriptions: what one event caused, in one call."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from notification_service import lists
from notification_service.api.deps import ReadSessionDep, SettingsDep, UserIdDep
from notification_service.api.routes.common import AUTH, EventIdFilter, PageCursor, page_size
from notification_service.schemas import DeliveryPage
from taskplane_common.db import autocommit
from taskplane_common.jsonbody import FastJSONResponse
from taskplane_common.paging import PageLimit

router = APIRouter(prefix="/api/v1/deliveries", tags=["webhooks"])


@router.get(
    "",
    response_model=DeliveryPage,
    responses=AUTH,
    summary="My webhook deliveries (every subscription of mine), newest first",
)
async def list_my_deliveries(
    session: ReadSessionDep,
    settings: SettingsDep,
    owner: UserIdDep,
    limit: PageLimit = None,
    cursor: PageCursor = None,
    event_id: EventIdFilter = None,
) -> JSONResponse:
    async with autocommit(session) as db:
        page = await lists.delivery_page(
            db, owner, None, page_size(settings, limit), cursor, event_id
        )
    return FastJSONResponse(page)
