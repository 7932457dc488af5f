"""Queues: their configuration and depth, and the tasks put into them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from taskplane_client.models.base import (
    NO_NUL,
    JsonDatetime,
    Priority,
    Request,
    Response,
    Status,
    Title,
)

__all__ = [
    "Queue",
    "QueueConfig",
    "QueueState",
    "QueueStats",
    "QueuedTask",
    "TaskEnqueue",
]


# Settings this client does not know (from a newer server) are kept rather than refused,
# so reading a queue and putting it back changes only what the caller set; the
# task-service's QueueConfig refuses them.
class QueueConfig(Request):
    """A queue's configuration; every field has the TaskQueue resource's default."""

    model_config = ConfigDict(extra="allow")

    max_attempts: int = Field(5, ge=1, le=1000)
    visibility_timeout_s: int = Field(60, ge=1, le=86_400)
    backoff_base_s: float = Field(2.0, ge=0, le=86_400)
    backoff_max_s: float = Field(300.0, ge=0, le=7 * 86_400)
    paused: bool = False
    rate_limit_per_s: float | None = Field(None, gt=0, le=100_000)
    max_in_flight: int | None = Field(None, ge=1, le=1_000_000)


class QueueStats(Response):
    """Depth and totals of a queue."""

    available: int
    scheduled: int
    in_flight: int
    retrying: int
    dead: int
    oldest_available_age_s: float
    completed_total: int
    failed_total: int

    @property
    def pending(self) -> int:
        """Tasks not finished yet (available, scheduled, in flight or retrying)."""
        return self.available + self.scheduled + self.in_flight + self.retrying


class Queue(QueueStats):
    name: str
    config: QueueConfig


#: JSON Schema for "``run_at`` and ``delay_s`` both given, neither null".
_BOTH_SCHEDULES: dict[str, Any] = {
    "required": ["run_at", "delay_s"],
    "properties": {
        "run_at": {"not": {"type": "null"}},
        "delay_s": {"not": {"type": "null"}},
    },
}


class TaskEnqueue(Request):
    """A task for a queue; ``run_at`` and ``delay_s`` exclude each other."""

    model_config = ConfigDict(json_schema_extra={"not": _BOTH_SCHEDULES})

    payload: dict[str, Any] = Field(default_factory=dict)
    priority: Priority = "medium"
    run_at: JsonDatetime | None = None
    delay_s: float | None = Field(None, ge=0, le=366 * 86_400)
    max_attempts: int | None = Field(None, ge=1, le=1000)
    dedupe_key: (
        Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)] | None
    ) = None
    timeout_s: int | None = Field(None, ge=1, le=86_400)
    title: Title | None = None

    @model_validator(mode="after")
    def _one_schedule(self) -> TaskEnqueue:
        if self.run_at is not None and self.delay_s is not None:
            raise ValueError("give run_at or delay_s, not both")
        return self


class QueueState(Response):
    """Where a queued task stands: what a queue's task and a task's ``queue`` share."""

    payload: dict[str, Any]
    attempts: int
    max_attempts: int | None
    run_at: datetime | None
    timeout_s: int | None
    dedupe_key: str | None
    last_error: str | None
    result: Any | None


class QueuedTask(QueueState):
    id: uuid.UUID
    queue: str
    title: str
    status: Status
    priority: Priority
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    #: True when ``dedupe_key`` matched a live task, which is returned instead.
    deduplicated: bool = False
