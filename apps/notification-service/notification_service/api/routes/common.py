"""OpenAPI response declarations, paging and filters shared by the routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from taskplane_common.paging import page_size

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

__all__ = ["AUTH", "NOT_FOUND", "PROBLEM", "EventIdFilter", "PageCursor", "page_size"]

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or invalid token", **PROBLEM},
    403: {"description": "Not allowed", **PROBLEM},
    422: {"description": "Invalid input", **PROBLEM},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **AUTH,
    404: {"description": "Not found (or not yours)", **PROBLEM},
}
