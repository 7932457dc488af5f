"""OpenAPI response declarations, paging and the delivery log shared by the routes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

from notification_service import lists
from notification_service.api.deps import SettingsDep, UserIdDep
from notification_service.config import Settings
from taskplane_common.db import Database, DatabaseDep
from taskplane_common.jsonbody import FastJSONResponse
from taskplane_common.openapi import problems
from taskplane_common.paging import PageLimit, page_size

#: The opaque page cursor: base64url (what ``lists.encode_cursor`` writes).
PageCursor = Annotated[
    str | None,
    Query(
        max_length=500,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="`next_cursor` of the previous page",
    ),
]

#: Feed event ids are positive; a test delivery's event id is below zero.
EventIdFilter = Annotated[
    int | None,
    Query(
        ge=-(2**63),
        le=2**63 - 1,
        description="Only the deliveries of this event (the feed event's `id`)",
    ),
]


@dataclass(frozen=True)
class DeliveryLog:
    """A page of the caller's delivery log asked for: the page, optionally one event's
    deliveries only, and what reads it."""

    database: Database
    settings: Settings
    owner: uuid.UUID
    limit: int | None
    cursor: str | None
    event_id: int | None

    async def page(self, webhook_id: uuid.UUID | None) -> JSONResponse:
        """A page of one subscription's log, or of all the owner's (``webhook_id`` None)."""
        size = page_size(self.settings, self.limit)
        async with self.database.driver() as db:
            page = await lists.delivery_page(
                db, self.owner, webhook_id, size, self.cursor, self.event_id
            )
        return FastJSONResponse(page)


async def delivery_log(
    database: DatabaseDep,
    settings: SettingsDep,
    owner: UserIdDep,
    limit: PageLimit = None,
    cursor: PageCursor = None,
    event_id: EventIdFilter = None,
) -> DeliveryLog:
    return DeliveryLog(database, settings, owner, limit, cursor, event_id)


DeliveryLogDep = Annotated[DeliveryLog, Depends(delivery_log)]


__all__ = ["AUTH", "NOT_FOUND", "DeliveryLogDep", "PageCursor", "page_size"]

AUTH = problems(401, 403, 422, s401="No or invalid token", s403="Not allowed", s422="Invalid input")
NOT_FOUND = problems(404, s404="Not found (or not yours)")
