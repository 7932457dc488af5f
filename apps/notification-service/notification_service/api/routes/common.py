"""OpenAPI response declarations and paging shared by the routes."""

from __future__ import annotations

from typing import Any

from taskplane_common.paging import page_size

__all__ = ["AUTH", "NOT_FOUND", "PROBLEM", "page_size"]

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
