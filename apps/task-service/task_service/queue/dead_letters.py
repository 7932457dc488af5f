"""Dead letters, cancellation and deleting finished jobs: the admin's side of a task's
life."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession

from task_service.queue import statements
from task_service.queue.driver import Executor, execute
from task_service.queue.errors import (
    DeadTaskNotFound,
    DedupeConflict,
    NotQueued,
    QueueNotFound,
    TaskFinished,
    TaskNotFound,
)
from task_service.queue.notify import QUEUE_CHANNEL
from task_service.queue.records import queued_task
from task_service.queue.registry import get_queue
from task_service.queue.schemas import QueuedTaskOut
from taskplane_common.principals import Principal


async def list_dead(
    session: AsyncSession,
    queue: str,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> tuple[list[QueuedTaskOut], bool]:
    """Up to ``limit`` dead tasks, newest first, after the keyset position ``after``
    (``updated_at``, ``id`` of the last one seen: a finished job's ``updated_at`` is when
    it finished); and whether more follow. ``QueueNotFound`` for a queue that does not
    exist, as its other routes answer (asked only when no dead task was found)."""
    after_at, after_id = after or (None, None)
    params = {"queue": queue, "limit": limit + 1, "after_at": after_at, "after_id": after_id}
    tasks = [queued_task(row) for row in await execute(session, statements.LIST_DEAD, params)]
    if not tasks and await get_queue(session, queue) is None:
        raise QueueNotFound(queue)
    return tasks[:limit], len(tasks) > limit


async def retry_dead(session: AsyncSession, queue: str, task_id: uuid.UUID) -> QueuedTaskOut:
    """A dead task gets a fresh set of attempts, available now."""
    params = {"queue": queue, "task_id": task_id, "channel": QUEUE_CHANNEL}
    try:
        rows = await execute(session, statements.RETRY_DEAD, params)
    except psycopg.errors.UniqueViolation as exc:
        raise DedupeConflict from exc
    if not rows:
        raise DeadTaskNotFound(queue, task_id)
    return queued_task(rows[0])


async def cancel(session: AsyncSession, principal: Principal, task_id: uuid.UUID) -> QueuedTaskOut:
    """Cancel a task that has not finished; a worker holding it loses its lease (409).

    People cancel the tasks they can see; a ``queues:admin`` token any queued task.
    """
    params = {
        "task_id": task_id,
        "see_all": principal.has_scope("queues:admin"),
        "user": principal.user_id,
    }
    cancelled = await execute(session, statements.CANCEL, params)
    if cancelled:
        return queued_task(cancelled[0])
    visible = await execute(session, statements.VISIBLE_STATUS, params)
    if not visible:
        raise TaskNotFound(task_id)
    if not visible[0]["queued"]:
        raise NotQueued(task_id)
    raise TaskFinished(task_id, visible[0]["status"])


async def delete_finished(
    session: Executor, task_ids: Sequence[uuid.UUID], *, dead_of: str | None = None
) -> set[uuid.UUID]:
    """Delete finished jobs (only dead ones of the queue ``dead_of`` when given), each
    with its ``task.deleted`` event; the ids deleted (a live job is never deleted)."""
    params = {"task_ids": list(task_ids), "dead_of": dead_of}
    return {row["id"] for row in await execute(session, statements.DELETE_FINISHED, params)}
