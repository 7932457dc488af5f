"""Enqueue: a batch of tasks in one statement, with their events and the wake-up."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from task_service.models import Priority
from task_service.queue import statements
from task_service.queue.driver import Executor, execute, json_param
from task_service.queue.errors import DedupeRace
from task_service.queue.notify import QUEUE_CHANNEL
from task_service.queue.records import queued_task
from task_service.queue.schemas import QueuedTaskOut, TaskEnqueue
from taskplane_common.principals import Principal


def _row(task_id: uuid.UUID, queue: str, item: TaskEnqueue) -> dict[str, object]:
    return {
        "id": str(task_id),
        "title": item.title or queue,
        "priority": Priority.from_label(item.priority).value,
        "payload": item.payload,
        "max_attempts": item.max_attempts,
        "timeout_s": item.timeout_s,
        "dedupe_key": item.dedupe_key,
        "run_at": item.run_at.isoformat() if item.run_at is not None else None,
        "delay_s": item.delay_s,
    }


async def enqueue(
    session: Executor,
    principal: Principal,
    queue: str,
    items: Sequence[TaskEnqueue],
    traceparent: str | None,
) -> list[QueuedTaskOut]:
    """Insert ``items`` in one statement; a live task with the same ``dedupe_key`` is
    returned instead (``deduplicated``). Returns the tasks in input order. An
    unconfigured queue is created with the defaults."""
    ids = [uuid.uuid4() for _ in items]
    rows = [_row(task_id, queue, item) for task_id, item in zip(ids, items, strict=True)]
    result = await execute(
        session,
        statements.ENQUEUE,
        {
            "queue": queue,
            "items": json_param(rows),
            "owner": principal.user_id,
            "traceparent": traceparent,
            "channel": QUEUE_CHANNEL,
        },
    )
    inserted = {task.id: task for task in map(queued_task, result)}
    existing: dict[str | None, QueuedTaskOut] = {}
    if len(inserted) < len(items):
        keys = [
            item.dedupe_key
            for task_id, item in zip(ids, items, strict=True)
            if task_id not in inserted
        ]
        holders = await execute(session, statements.DEDUPE_HOLDERS, {"queue": queue, "keys": keys})
        existing = {task.dedupe_key: task for task in map(queued_task, holders)}
        if len(existing) < len(set(keys)):
            # The live holder of a key finished between our insert and select: rare, and
            # the client's retry of the whole (atomic) request resolves it.
            raise DedupeRace
    for task in existing.values():
        task.deduplicated = True
    return [
        inserted[task_id] if task_id in inserted else existing[item.dedupe_key]
        for task_id, item in zip(ids, items, strict=True)
    ]
