"""Request and response bodies of the tasks API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from task_service.models import Priority, Task
from taskplane_client.models import Omittable

PriorityLabel = Literal["low", "medium", "high", "critical"]
#: Statuses a person may set on a task; the queue engine owns the others.
SettableStatus = Literal["pending", "in_progress", "completed", "cancelled"]
StatusLabel = Literal[
    "pending", "scheduled", "in_progress", "retrying", "completed", "dead", "cancelled"
]

MAX_TAGS = 10


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("must not be blank")
    return value


def _dedupe_tags(tags: list[str]) -> list[str]:
    """Keep the first spelling of each tag, comparing case-insensitively."""
    seen: set[str] = set()
    unique: list[str] = []
    for tag in tags:
        folded = tag.casefold()
        if folded not in seen:
            seen.add(folded)
            unique.append(tag)
    return unique


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200),
    AfterValidator(_not_blank),
]
Description = Annotated[str, StringConstraints(max_length=2000)]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_dedupe_tags)]


class _StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class TaskCreate(_StrictBody):
    title: Title
    description: Description | None = None
    status: SettableStatus = "pending"
    priority: PriorityLabel = "medium"
    due_at: AwareDatetime | None = None
    tags: Tags = Field(default_factory=list)
    assignee_id: uuid.UUID | None = None


class TaskUpdate(_StrictBody):
    """Partial update: only fields present in the body change; ``null`` clears.

    ``title``, ``status`` and ``priority`` cannot be empty: ``null`` there is a 422.
    """

    title: Omittable[Title] = None
    description: Description | None = None
    status: Omittable[SettableStatus] = None
    priority: Omittable[PriorityLabel] = None
    due_at: AwareDatetime | None = None
    tags: Tags | None = None
    assignee_id: uuid.UUID | None = None


class QueueDetails(BaseModel):
    """How a queued task is doing; ``null`` on tasks that are not in a queue."""

    name: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int | None
    run_at: datetime | None
    timeout_s: int | None
    dedupe_key: str | None
    last_error: str | None
    result: Any | None

    @classmethod
    def from_row(cls, task: Task) -> QueueDetails | None:
        if task.queue is None:
            return None
        return cls(
            name=task.queue,
            payload=task.payload or {},
            attempts=task.attempts,
            max_attempts=task.max_attempts,
            run_at=task.run_at,
            timeout_s=task.timeout_s,
            dedupe_key=task.dedupe_key,
            last_error=task.last_error,
            result=task.result,
        )


class TaskOut(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None
    status: StatusLabel
    priority: PriorityLabel
    due_at: datetime | None
    tags: list[str]
    assignee_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    queue: QueueDetails | None = None

    @classmethod
    def from_row(cls, task: Task) -> TaskOut:
        return cls(
            id=task.id,
            title=task.title,
            description=task.description,
            status=task.status,
            priority=Priority(task.priority).label,
            due_at=task.due_at,
            tags=list(task.tags),
            assignee_id=task.assignee_id,
            owner_id=task.owner_id,
            version=task.version,
            created_at=task.created_at,
            updated_at=task.updated_at,
            completed_at=task.completed_at,
            queue=QueueDetails.from_row(task),
        )


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class TaskStats(BaseModel):
    total: int
    by_status: dict[str, int]
    by_priority: dict[str, int]
    overdue: int
