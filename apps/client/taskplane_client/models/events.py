"""The task-service's event feed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, get_args

from taskplane_client.models.base import Response

__all__ = [
    "EVENT_TYPES",
    "Event",
    "EventPage",
    "EventType",
]

#: The types of the task-service's event feed: what webhooks subscribe to and what
#: notification preferences are set for.
EventType = Literal[
    "task.created",
    "task.updated",
    "task.assigned",
    "task.completed",
    "task.failed",
    "task.dead",
    "task.cancelled",
    "task.deleted",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)


class Event(Response):
    id: int
    type: str
    task_id: uuid.UUID
    queue: str | None
    owner_id: uuid.UUID | None
    data: dict[str, Any]
    occurred_at: datetime
    #: Pass as ``after`` to resume right after this event.
    cursor: str
    #: The W3C trace context of the change (for a queue task: its enqueue's), so a
    #: consumer continues that trace; None for changes made outside any trace.
    traceparent: str | None = None


class EventPage(Response):
    items: list[Event]
    #: Pass as ``after`` for the next call (unchanged when nothing new arrived).
    next_cursor: str
