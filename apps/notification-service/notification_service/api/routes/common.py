"""OpenAPI response declarations, paging and the delivery log shared by the routes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

from notification_service import lists
from notification_service.api.deps import UserIdDep
from taskplane_common.db import Database, DatabaseDep
from taskplane_common.deps import PageRequest, page_request
from taskplane_common.jsonbody import read_as_json
from taskplane_common.openapi import problems

#: The cursor of a page of the caller's own rows: opaque, base64url (what
#: ``lists.encode_cursor`` writes).
_OWN_CURSOR = Query(
    max_length=500, pattern=r"^[A-Za-z0-9_-]+$", description="`next_cursor` of the previous page"
)
OwnPageRequestDep = Annotated[PageRequest, Depends(page_request(_OWN_CURSOR))]


@dataclass(frozen=True)
class OwnPage:
    """A page of the caller's own notifications or deliveries asked for: the owner, the
    page's size (capped by the settings) and cursor, and the database that reads it."""

    database: Database
    owner: uuid.UUID
    size: int
    cursor: str | None


async def own_page(
    database: DatabaseDep, owner: UserIdDep, requested: OwnPageRequestDep
) -> OwnPage:
    return OwnPage(database, owner, requested.size, requested.cursor)


OwnPageDep = Annotated[OwnPage, Depends(own_page)]


async def event_filter(
    event_id: Annotated[
        int | None,
        Query(
            ge=-(2**63),
            le=2**63 - 1,
            description="Only the deliveries of this event (the feed event's `id`)",
        ),
    ] = None,
) -> int | None:
    """A delivery log's ``event_id`` filter: feed event ids are positive, a test
    delivery's is below zero. A dependency of its own, after the page's, so that the
    document lists it after ``limit`` and ``cursor`` (FastAPI lists a dependency's
    parameters after those of what depends on it)."""
    return event_id


@dataclass(frozen=True)
class DeliveryLog:
    """A page of the caller's delivery log asked for, optionally of one event's
    deliveries only."""

    page: OwnPage
    event_id: int | None

    async def read(self, webhook_id: uuid.UUID | None) -> JSONResponse:
        """The page of one subscription's log, or of all the owner's (``webhook_id`` None)."""
        page = self.page
        return await read_as_json(
            page.database,
            lists.delivery_page,
            page.owner,
            webhook_id,
            page.size,
            page.cursor,
            self.event_id,
        )


async def delivery_log(
    page: OwnPageDep, event_id: Annotated[int | None, Depends(event_filter)]
) -> DeliveryLog:
    return DeliveryLog(page, event_id)


DeliveryLogDep = Annotated[DeliveryLog, Depends(delivery_log)]


__all__ = ["AUTH", "NOT_FOUND", "DeliveryLogDep", "OwnPageDep"]

AUTH = problems(401, 403, 422, s401="No or invalid token", s403="Not allowed", s422="Invalid input")
NOT_FOUND = problems(404, s404="Not found (or not yours)")
