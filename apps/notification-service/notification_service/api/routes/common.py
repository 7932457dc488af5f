"""OpenAPI response declarations, paging and filters shared by the routes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

from notification_service import lists
from notification_service.config import Settings
from taskplane_common.db import Database
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
class LogQuery:
    """The query of a delivery log: a page, and optionally one event's deliveries."""

    limit: int | None
    cursor: str | None
    event_id: int | None


async def log_query(
    limit: PageLimit = None, cursor: PageCursor = None, event_id: EventIdFilter = None
) -> LogQuery:
    return LogQuery(limit, cursor, event_id)


LogQueryDep = Annotated[LogQuery, Depends(log_query)]


async def delivery_log(
    database: Database,
    settings: Settings,
    owner: uuid.UUID,
    webhook_id: uuid.UUID | None,
    query: LogQuery,
) -> JSONResponse:
    """A page of one subscription's log, or of all of ``owner``'s (``webhook_id`` None)."""
    size = page_size(settings, query.limit)
    async with database.driver() as db:
        page = await lists.delivery_page(db, owner, webhook_id, size, query.cursor, query.event_id)
    return FastJSONResponse(page)


__all__ = ["AUTH", "NOT_FOUND", "LogQueryDep", "PageCursor", "delivery_log", "page_size"]

AUTH = problems(401, 403, 422, s401="No or invalid token", s403="Not allowed", s422="Invalid input")
NOT_FOUND = {**AUTH, **problems(404, s404="Not found (or not yours)")}
