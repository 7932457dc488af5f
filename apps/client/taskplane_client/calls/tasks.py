"""The task-service's health and task calls (create, list, read, update, delete, cancel)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence

from taskplane_client.calls.common import TASKS, Pages
from taskplane_client.models import (
    QueuedTask,
    Task,
    TaskCreate,
    TaskPage,
    TaskStats,
    TaskUpdate,
)
from taskplane_client.transport import Call, body_of, model, nothing

__all__ = [
    "TaskFilter",
    "cancel_task",
    "create_task",
    "delete_task",
    "get_task",
    "health",
    "list_tasks",
    "task_pages",
    "task_stats",
    "update_task",
]


def health() -> Call[None]:
    """``GET /healthz``: the task-service process answers (no token needed)."""
    return Call("health", "GET", "/healthz", nothing, idempotent=True, authenticated=False)


# ----------------------------------------------------------------------------- tasks


def create_task(task: TaskCreate, *, idempotency_key: str | None = None) -> Call[Task]:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    return Call(
        "create_task",
        "POST",
        TASKS,
        model(Task),
        json=body_of(task),
        headers=headers,
        idempotent=idempotency_key is not None,
    )


@dataclasses.dataclass(frozen=True)
class TaskFilter:
    """Filters of ``GET /api/v1/tasks`` (repeated values are OR-ed; tags must all match)."""

    status: Sequence[str] = ()
    priority: Sequence[str] = ()
    tag: Sequence[str] = ()
    assignee: str | None = None
    q: str | None = None
    sort: str | None = None


def list_tasks(
    filters: TaskFilter | None = None, *, limit: int | None = None, cursor: str | None = None
) -> Call[TaskPage]:
    """One page of the tasks ``filters`` match (all of them without filters)."""
    f = filters or TaskFilter()
    params = [("status", s) for s in f.status] + [("priority", p) for p in f.priority]
    params += [("tag", t) for t in f.tag]
    for key, value in (("assignee", f.assignee), ("q", f.q), ("sort", f.sort), ("cursor", cursor)):
        if value is not None:
            params.append((key, value))
    if limit is not None:
        params.append(("limit", str(limit)))
    return Call("list_tasks", "GET", TASKS, model(TaskPage), params=params, idempotent=True)


def task_pages(filters: TaskFilter | None = None, *, page_size: int = 100) -> Pages[Task]:
    """Every matching task, page after page (keyset cursors: stable under inserts)."""
    return Pages(
        lambda cursor: list_tasks(filters, limit=page_size, cursor=cursor),
        last=lambda page: page.next_cursor is None,
    )


def get_task(task_id: uuid.UUID | str) -> Call[Task]:
    return Call("get_task", "GET", f"{TASKS}/{task_id}", model(Task), idempotent=True)


def update_task(
    task_id: uuid.UUID | str, change: TaskUpdate, *, if_match: str | None = None
) -> Call[Task]:
    return Call(
        "update_task",
        "PATCH",
        f"{TASKS}/{task_id}",
        model(Task),
        json=body_of(change, only_set=True),
        headers={"If-Match": if_match} if if_match else {},
        idempotent=True,
    )


def delete_task(task_id: uuid.UUID | str, *, if_match: str | None = None) -> Call[None]:
    headers = {"If-Match": if_match} if if_match else {}
    return Call(
        "delete_task", "DELETE", f"{TASKS}/{task_id}", nothing, headers=headers, idempotent=True
    )


def task_stats() -> Call[TaskStats]:
    return Call("task_stats", "GET", f"{TASKS}/stats", model(TaskStats), idempotent=True)


def cancel_task(task_id: uuid.UUID | str) -> Call[QueuedTask]:
    return Call(
        "cancel_task", "POST", f"{TASKS}/{task_id}/cancel", model(QueuedTask), idempotent=True
    )
