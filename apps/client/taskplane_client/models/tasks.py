"""Tasks: what is created and updated, and what the task-service answers."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import (
    Field,
)

from taskplane_client.models.base import (
    Description,
    JsonDatetime,
    JsonUUID,
    Omittable,
    Priority,
    Request,
    Response,
    SettableStatus,
    Status,
    Tags,
    Title,
)
from taskplane_client.models.queues import QueueState

__all__ = [
    "QueueDetails",
    "Task",
    "TaskCreate",
    "TaskPage",
    "TaskStats",
    "TaskUpdate",
]


class TaskCreate(Request):
    title: Title
    description: Description | None = None
    status: SettableStatus = "pending"
    priority: Priority = "medium"
    due_at: JsonDatetime | None = None
    tags: Tags = Field(default_factory=list)
    assignee_id: JsonUUID | None = None


class TaskUpdate(Request):
    """Only the fields given are sent (``None`` given explicitly clears a field).

    ``title``, ``status`` and ``priority`` cannot be cleared: ``null`` is refused.
    """

    title: Omittable[Title] = None
    description: Description | None = None
    status: Omittable[SettableStatus] = None
    priority: Omittable[Priority] = None
    due_at: JsonDatetime | None = None
    tags: Tags | None = None
    assignee_id: JsonUUID | None = None


class QueueDetails(QueueState):
    """How a queued task is doing; ``null`` on tasks that are not in a queue."""

    name: str


class Task(Response):
    id: uuid.UUID
    title: str
    description: str | None
    status: Status
    priority: Priority
    due_at: datetime | None
    tags: list[str]
    assignee_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    queue: QueueDetails | None = None

    @property
    def etag(self) -> str:
        """The ``ETag`` of this version, for ``If-Match``."""
        return f'"{self.version}"'


class TaskPage(Response):
    items: list[Task]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class TaskStats(Response):
    total: int
    by_status: dict[str, int]
    by_priority: dict[str, int]
    overdue: int
