"""The old module name of the queue engine, kept only for the benchmark's taskplane
adapter (owned by the bench) until it imports ``task_service.queue``; the engine lives
there."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from task_service import queue
from task_service.queue import autocommit, complete, complete_many, lease
from task_service.queue_schemas import QueuedTaskOut, TaskEnqueue
from taskplane_common.security import Principal

__all__ = ["autocommit", "complete", "complete_many", "enqueue", "lease"]


async def enqueue(
    session: AsyncSession,
    principal: Principal,
    queue_name: str,
    items: Sequence[TaskEnqueue],
    traceparent: str | None,
) -> list[tuple[QueuedTaskOut, bool]]:
    """``queue.enqueue`` in the old shape: (task, deduplicated) pairs."""
    tasks = await queue.enqueue(session, principal, queue_name, items, traceparent)
    return [(task, task.deduplicated) for task in tasks]
