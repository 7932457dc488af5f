"""The task event feed, read by long-poll."""

from __future__ import annotations

from taskplane_client.calls.common import LONG_POLL_MARGIN_S, Pages
from taskplane_client.models import Event, EventPage
from taskplane_client.transport import Call, model

__all__ = [
    "event_pages",
    "events",
]

# ----------------------------------------------------------------------------- events


def events(after: str | None = None, *, wait_s: float = 0.0, limit: int = 100) -> Call[EventPage]:
    params = [("wait_s", str(wait_s)), ("limit", str(limit))]
    if after is not None:
        params.append(("after", after))
    return Call(
        "events",
        "GET",
        "/api/v1/events",
        model(EventPage),
        params=params,
        idempotent=True,
        timeout_s=wait_s + LONG_POLL_MARGIN_S,
    )


def event_pages(
    after: str | None = None, *, follow: bool = False, wait_s: float = 20, limit: int = 100
) -> Pages[Event]:
    """Events in order from ``after``; ``follow`` keeps long-polling for new ones."""
    return Pages(
        lambda cursor: events(cursor, wait_s=wait_s if follow else 0, limit=limit),
        last=lambda page: not page.items and not follow,
        cursor=after,
    )
