"""The task event feed, read by long-poll."""

from __future__ import annotations

from taskplane_client.calls.common import LONG_POLL_MARGIN_S
from taskplane_client.models import (
    EventPage,
)
from taskplane_client.transport import Call, model

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
