"""The one place the benchmark calls taskplane's queue engine directly (no HTTP).

Everything engine-specific lives here, so a reworked engine only needs this module
adapted: installing the schema, enqueueing, leasing, completing (one lease, or many in
one statement as the worker's batch endpoint does) and reading the outcome back from the
engine's own tables. Calls are made the way the HTTP routes make them: a session per
call, the lease actions in autocommit, the task-service's default lease settings.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from taskplane_common.db import async_database_url

QUEUE = "bench"

#: Leased task as the benchmark sees it: (task id, lease id).
Leased = tuple[uuid.UUID, uuid.UUID]


def install(url: str) -> None:
    """Create the task-service schema (its Alembic migrations) in an empty database."""
    from taskplane_common.migrations import upgrade

    upgrade("task_service", url)


class TaskplaneEngine:
    """A connection pool on one database and the engine calls the routes make."""

    def __init__(self, url: str, pool_size: int) -> None:
        self.engine: AsyncEngine = create_async_engine(
            async_database_url(url), pool_size=pool_size, max_overflow=0
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def connect(self) -> None:
        """Open a pooled connection now rather than on the first timed call."""
        async with self.engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")

    async def enqueue(self, payloads: Sequence[dict[str, Any]]) -> list[str]:
        """Enqueue one batch in one call (as ``POST /queues/{q}/tasks``); returns ids."""
        from task_service import queue
        from task_service.queue_schemas import TaskEnqueue
        from taskplane_common.security import DEV_PRINCIPAL

        items = [TaskEnqueue(payload=payload) for payload in payloads]
        async with self.sessions() as session:
            tasks = await queue.enqueue(session, DEV_PRINCIPAL, QUEUE, items, None)
            await session.commit()
        return [str(task.id) for task in tasks]

    async def lease(self, worker_id: str, max_tasks: int) -> list[Leased]:
        from task_service import queue

        async with self.sessions() as session:
            await queue.autocommit(session)  # as the route: the claim is one statement
            granted = await queue.lease(
                session,
                QUEUE,
                worker_id,
                max_tasks,
                timeout_grace_s=5,  # the Settings defaults the route passes
                reclaim_batch=500,
            )
            await session.commit()
        return [(t.id, t.lease_id) for t in granted.tasks]

    async def complete_one(self, worker_id: str, lease_id: uuid.UUID) -> None:
        """``POST /leases/{id}/complete``: one lease, one statement."""
        from task_service import queue

        async with self.sessions() as session:
            await queue.autocommit(session)
            await queue.complete(session, lease_id, worker_id, None)
            await session.commit()

    async def complete_many(self, worker_id: str, lease_ids: Sequence[uuid.UUID]) -> int:
        """``POST /leases/complete``: many leases in one statement; returns how many held."""
        from task_service import queue

        async with self.sessions() as session:
            await queue.autocommit(session)
            done = await queue.complete_many(session, [(i, None) for i in lease_ids], worker_id)
            await session.commit()
        return len(done)

    async def close(self) -> None:
        await self.engine.dispose()


async def outcome(url: str) -> dict[str, int]:
    """From the engine's own tables: tasks completed on their first attempt, tasks not
    completed, and ``task.completed`` events written (one per task when exactly once)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        cursor = await connection.execute(
            "SELECT count(*) FILTER (WHERE status = 'completed' AND attempts = 1),"
            " count(*) FILTER (WHERE status <> 'completed'),"
            " (SELECT count(*) FROM tasks.events WHERE type = 'task.completed')"
            " FROM tasks.tasks WHERE queue = %s",
            (QUEUE,),
        )
        row = await cursor.fetchone()
    assert row is not None
    return {"finished": int(row[0]), "left": int(row[1]), "completed_events": int(row[2])}


#: Tasks the engine counts as completed (its sharded counters); cheap to poll.
COMPLETED_SQL = (
    "SELECT coalesce(sum(completed_total), 0) FROM tasks.queue_counters WHERE queue = 'bench'"
)


async def install_async(url: str) -> None:
    await asyncio.to_thread(install, url)
