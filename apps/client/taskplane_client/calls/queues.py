"""Queue calls: configuration, enqueueing and the dead-letter list."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from taskplane_client.calls.common import QUEUES, _queue
from taskplane_client.models import (
    Queue,
    QueueConfig,
    QueuedTask,
    TaskEnqueue,
)
from taskplane_client.transport import Call, body_of, model, nothing

__all__ = [
    "delete_queue",
    "enqueue",
    "enqueue_many",
    "get_queue",
    "list_dead",
    "list_queues",
    "put_queue",
    "retry_dead",
]

# ----------------------------------------------------------------------------- queues


def list_queues() -> Call[list[Queue]]:
    return Call("list_queues", "GET", QUEUES, model(list[Queue], "items"), idempotent=True)


def get_queue(name: str) -> Call[Queue]:
    return Call("get_queue", "GET", _queue(name), model(Queue), idempotent=True)


def put_queue(name: str, config: QueueConfig) -> Call[Queue]:
    return Call(
        "put_queue", "PUT", _queue(name), model(Queue), json=body_of(config), idempotent=True
    )


def delete_queue(name: str, *, force: bool = False) -> Call[None]:
    params = [("force", "true")] if force else []
    return Call("delete_queue", "DELETE", _queue(name), nothing, params=params, idempotent=True)


def enqueue(queue: str, task: TaskEnqueue) -> Call[QueuedTask]:
    """One task; a ``dedupe_key`` makes a repeat harmless, so it may be retried."""
    return Call(
        "enqueue",
        "POST",
        f"{_queue(queue)}/tasks",
        model(QueuedTask),
        json=body_of(task),
        idempotent=task.dedupe_key is not None,
    )


def enqueue_many(queue: str, tasks: Iterable[TaskEnqueue]) -> Call[list[QueuedTask]]:
    """Several tasks in one transaction: all are queued or none."""
    body = [body_of(task) for task in tasks]
    return Call(
        "enqueue_many",
        "POST",
        f"{_queue(queue)}/tasks",
        model(list[QueuedTask], "tasks"),
        json={"tasks": body},
        idempotent=all(item.get("dedupe_key") for item in body),
    )


def list_dead(queue: str, *, limit: int = 100) -> Call[list[QueuedTask]]:
    return Call(
        "list_dead",
        "GET",
        f"{_queue(queue)}/dead",
        model(list[QueuedTask]),
        params=[("limit", str(limit))],
        idempotent=True,
    )


def retry_dead(queue: str, task_id: uuid.UUID | str) -> Call[QueuedTask]:
    return Call("retry_dead", "POST", f"{_queue(queue)}/dead/{task_id}/retry", model(QueuedTask))
