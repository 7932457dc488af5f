"""The ``limit`` query parameter every list route takes, declared once.

The document states the one bound no configuration can raise (``PAGE_SIZE_CAP``); a
service's ``max_page_size`` setting caps a larger ``limit`` to a shorter page instead of
refusing it, so a request the document allows is never refused because of a setting
the client cannot see.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Query

#: The highest ``max_page_size`` any service's settings accept.
PAGE_SIZE_CAP = 1000

PageLimit = Annotated[
    int | None,
    Query(
        ge=1,
        le=PAGE_SIZE_CAP,
        description="Page size: the service's default when left out; the service's "
        "maximum (200 by default) caps it",
    ),
]


class PagedSettings(Protocol):
    @property
    def default_page_size(self) -> int: ...

    @property
    def max_page_size(self) -> int: ...


def page_size(settings: PagedSettings, limit: int | None) -> int:
    """``limit`` (or the default), capped at the service's maximum."""
    return min(limit or settings.default_page_size, settings.max_page_size)
