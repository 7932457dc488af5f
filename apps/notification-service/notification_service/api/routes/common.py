"""OpenAPI response declarations and paging shared by the routes."""

from __future__ import annotations

from typing import Any

from notification_service.config import Settings
from taskplane_common.errors import ProblemError

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


def page_size(settings: Settings, limit: int | None) -> int:
    size = limit or settings.default_page_size
    if size > settings.max_page_size:
        raise ProblemError(
            422, f"limit must be at most {settings.max_page_size}", slug="validation-error"
        )
    return size
