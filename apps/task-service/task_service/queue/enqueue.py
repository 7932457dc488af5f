"""Enqueue: a batch of tasks in one statement, with their events and the wake-up."""

from __future__ import annotations

import uuid
from collections.abc import Container, Sequence
from typing import Any

from pydantic_core import to_json

from task_service.models import Priority
from task_service.queue import statements
from task_service.queue.driver import Executor, execute
from task_service.queue.errors import DedupeRace
from task_service.queue.ids import uuid7s
from task_service.queue.notify import QUEUE_CHANNEL
from task_service.queue.records import queued_task
from task_service.queue.schemas import QueuedTaskOut, TaskEnqueue
from taskplane_common.principals import Principal


def _columns(ids: Sequence[uuid.UUID], queue: str, items: Sequence[TaskEnqueue]) -> dict[str, Any]:
    """``items`` as one list per column of ``statements.ENQUEUE_COLUMNS`` (their arrays)."""
    return {
        "id": ids,
        "title": [item.title or queue for item in items],
        "priority": [Priority.from_label(item.priority).value for item in items],
        "payload": [to_json(item.payload).decode() for item in items],
        "max_attempts": [item.max_attempts for item in items],
        "timeout_s": [item.timeout_s for item in items],
        "dedupe_key": [item.dedupe_key for item in items],
        "run_at": [item.run_at for item in items],
        "delay_s": [item.delay_s for item in items],
    }


async def _holders(
    session: Executor, queue: str, keys: Sequence[str | None]
) -> dict[str | None, QueuedTaskOut]:
    """The live tasks holding ``keys`` (the winners of a deduplicated enqueue)."""
    holders = await execute(session, statements.DEDUPE_HOLDERS, {"queue": queue, "keys": keys})
    existing = {task.dedupe_key: task for task in map(queued_task, holders)}
    if len(existing) < len(set(keys)):
        # The live holder of a key finished between our insert and select: rare, and
        # the client's retry of the whole (atomic) request resolves it.
        raise DedupeRace
    return existing


def _lost(
    ids: Sequence[uuid.UUID], items: Sequence[TaskEnqueue], inserted: Container[uuid.UUID]
) -> list[str | None]:
    """The dedupe keys of the items whose insert lost to a live task."""
    return [
        item.dedupe_key for task_id, item in zip(ids, items, strict=True) if task_id not in inserted
    ]


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
    # Fresh UUIDv7 ids: sequential keys, so the primary key's new entries share its
    # rightmost pages. A deduplicated item gets no row.
    ids = uuid7s(len(items))
    rows = await execute(
        session,
        statements.ENQUEUE,
        {
            "queue": queue,
            "owner": principal.user_id,
            "traceparent": traceparent,
            "channel": QUEUE_CHANNEL,
            **_columns(ids, queue, items),
        },
    )
    inserted = {task.id: task for task in map(queued_task, rows)}
    existing: dict[str | None, QueuedTaskOut] = {}
    if len(inserted) < len(items):
        existing = await _holders(session, queue, _lost(ids, items, inserted))
    for task in existing.values():
        task.deduplicated = True
    return [
        inserted[task_id] if task_id in inserted else existing[item.dedupe_key]
        for task_id, item in zip(ids, items, strict=True)
    ]
