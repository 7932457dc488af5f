"""Leases: tasks handed to a worker, and what it reports back."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import (
    PrivateAttr,
    model_validator,
)

from taskplane_client.models.base import JsonUUID, Priority, Request, Response, Status

__all__ = [
    "Completion",
    "CompletionResult",
    "HeartbeatResult",
    "Lease",
    "LeaseResult",
    "LeasedTask",
]


class LeasedTask(Response):
    id: uuid.UUID
    queue: str
    title: str
    payload: dict[str, Any]
    priority: Priority
    attempt: int
    max_attempts: int
    timeout_s: int | None
    lease_id: uuid.UUID
    lease_expires_at: datetime
    traceparent: str | None
    created_at: datetime
    #: The queue's visibility timeout when leased (copied from the lease answer, not
    #: part of the task's wire shape): heartbeats go well within it.
    _visibility_timeout_s: float = PrivateAttr(60.0)

    @property
    def visibility_timeout_s(self) -> float:
        return self._visibility_timeout_s


class Lease(Response):
    tasks: list[LeasedTask]
    visibility_timeout_s: int

    @model_validator(mode="after")
    def _tasks_know_their_timeout(self) -> Lease:
        for task in self.tasks:
            task._visibility_timeout_s = float(self.visibility_timeout_s)
        return self


class HeartbeatResult(Response):
    lease_id: uuid.UUID
    lease_expires_at: datetime


class LeaseResult(Response):
    id: uuid.UUID
    status: Status
    attempts: int
    run_at: datetime | None


class Completion(Request):
    lease_id: JsonUUID
    result: Any | None = None


class CompletionResult(Response):
    lease_id: uuid.UUID
    #: False: the lease was unknown, expired or another worker's; nothing changed.
    completed: bool
    task: LeaseResult | None = None
