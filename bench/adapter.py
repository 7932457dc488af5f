"""The one place the benchmark reaches into the task-service's code (no HTTP): the queue
engine, and the task API's list query for the pagination measurement.

Everything engine-specific lives here, so a reworked engine only needs this module
adapted: installing the schema, enqueueing, leasing, completing (one lease, or many in
one statement as the worker's batch endpoint does) and reading the outcome back from the
engine's own tables. Calls go through a psycopg pool in autocommit (each engine call is
one statement), with the task-service's default lease settings.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import InstrumentedAttribute

from task_service import queue
from task_service.queue.schemas import TaskEnqueue
from taskplane_common.principals import DEV_PRINCIPAL

QUEUE = "bench"

#: Leased task as the benchmark sees it: (task id, lease id).
Leased = tuple[uuid.UUID, uuid.UUID]


def install(url: str) -> None:
    """Create the task-service schema (its Alembic migrations) in an empty database."""
    from taskplane_common.migrations import upgrade

    upgrade("task_service", url)


class TaskplaneEngine:
    """A psycopg connection pool on one database and the engine calls a worker makes.

    The engine's functions take a plain psycopg connection as well as a session; a
    caller that holds its own pool (this one, in autocommit: every lease action is one
    atomic statement) skips the ORM session's per-call bookkeeping.
    """

    def __init__(self, url: str, pool_size: int) -> None:
        self.pool = AsyncConnectionPool(
            url,
            min_size=pool_size,
            max_size=pool_size,
            kwargs={"autocommit": True},
            open=False,
        )
        #: Concurrent first calls must open the pool once (its ``wait`` allows one waiter).
        self.opening = asyncio.Lock()
        self.opened = False

    async def connect(self) -> None:
        """Open the pool's connections now rather than on the first timed call."""
        if self.opened:
            return
        async with self.opening:
            if not self.opened:
                await self.pool.open(wait=True)
                self.opened = True

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled autocommit connection (opening the pool on first use)."""
        await self.connect()
        async with self.pool.connection() as connection:
            yield connection

    async def enqueue(self, payloads: Sequence[dict[str, Any]]) -> list[str]:
        """Enqueue one batch in one call (as ``POST /queues/{q}/tasks``); returns ids."""
        items = [TaskEnqueue(payload=payload) for payload in payloads]
        async with self.connection() as connection:
            tasks = await queue.enqueue(connection, DEV_PRINCIPAL, QUEUE, items, None)
        return [str(task.id) for task in tasks]

    async def lease(self, worker_id: str, max_tasks: int) -> list[Leased]:
        async with self.connection() as connection:
            granted = await queue.lease(
                connection,
                QUEUE,
                worker_id,
                max_tasks,
                timeout_grace_s=5,  # the Settings defaults the route passes
                reclaim_batch=500,
            )
        return [(t.id, t.lease_id) for t in granted.tasks]

    async def complete_one(self, worker_id: str, lease_id: uuid.UUID) -> None:
        """``POST /leases/{id}/complete``: one lease, one statement."""
        async with self.connection() as connection:
            await queue.complete(connection, lease_id, worker_id, None)

    async def complete_many(self, worker_id: str, lease_ids: Sequence[uuid.UUID]) -> int:
        """``POST /leases/complete``: many leases in one statement; returns how many held."""
        async with self.connection() as connection:
            done = await queue.complete_many(connection, [(i, None) for i in lease_ids], worker_id)
        return len(done)

    async def close(self) -> None:
        await self.pool.close()


async def outcome(url: str) -> dict[str, int]:
    """From the engine's own tables: tasks completed on their first attempt, tasks not
    completed, and ``task.completed`` events written (one per task when exactly once)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        cursor = await connection.execute(
            "SELECT count(*) FILTER (WHERE status = 'completed' AND attempts = 1),"
            " count(*) FILTER (WHERE status <> 'completed'),"
            " (SELECT count(*) FROM tasks.events WHERE type = 'task.completed')"
            " FROM tasks.queue_tasks WHERE queue = %s",
            (QUEUE,),
        )
        row = await cursor.fetchone()
    assert row is not None
    return {"finished": int(row[0]), "left": int(row[1]), "completed_events": int(row[2])}


def uuid7_sql(at: str) -> str:
    """A SQL expression for a UUIDv7 of the time ``at`` (a SQL expression), laid out as
    the service makes them (``task_service.queue.ids``): 48-bit Unix milliseconds,
    version 7, 12 random bits, the RFC variant, 62 random bits. For rows the bench
    writes in SQL, so their keys land where the engine's own would."""
    return (
        f"CAST(lpad(to_hex(CAST(floor(extract(epoch FROM {at}) * 1000) AS bigint)), 12, '0')"
        " || '7' || substr(md5(CAST(random() AS text)), 1, 3)"
        " || to_hex(8 + CAST(floor(random() * 4) AS int))"
        " || substr(md5(CAST(random() AS text)), 1, 15) AS uuid)"
    )


#: A queue that keeps its completed jobs forever (retention off), as a history piles up.
RETENTION_OFF_SQL = """
INSERT INTO tasks.queues (name, completed_retention_s) VALUES (%(queue)s, NULL)
ON CONFLICT (name) DO UPDATE SET completed_retention_s = NULL
"""
#: ``%(rows)s`` completed jobs of ``%(queue)s``, one per second back from now, as
#: completions leave them in the finished-jobs table (written by one set-based insert,
#: not through the API).
HISTORY_SQL = f"""
INSERT INTO tasks.queue_jobs_finished (id, queue, status, priority, title, payload, attempts,
    run_at, leased_at, completed_at, created_at, updated_at, finished_at, version)
SELECT {uuid7_sql("at")}, %(queue)s, 'completed', 1, 'history', '{{}}'::jsonb, 1, at, at, at,
       at, at, at, 3
FROM (SELECT now() - make_interval(secs => g) AS at
      FROM generate_series(1, %(rows)s) AS g) AS finished
"""  # noqa: S608 - assembled from constants only


#: Tasks the engine counts as completed (its sharded counters); cheap to poll.
COMPLETED_SQL = (
    "SELECT coalesce(sum(completed_total), 0) FROM tasks.queue_counters WHERE queue = 'bench'"
)


async def install_async(url: str) -> None:
    await asyncio.to_thread(install, url)


@dataclass(frozen=True)
class TaskListing:
    """The task API's default listing (an admin's view), as its own code builds it."""

    base: Select[Any]
    order: list[ColumnElement[Any]]
    after: Callable[[Any, uuid.UUID], ColumnElement[bool]]
    created_at: InstrumentedAttribute[Any]
    id: InstrumentedAttribute[Any]


def task_listing(sort: str = "-created_at") -> TaskListing:
    """``GET /api/v1/tasks?sort=<sort>`` without a cursor, and its keyset continuation."""
    from task_service.crud import visible_to
    from task_service.models import Task
    from task_service.pagination import after, order_by, parse_sort

    key = parse_sort(sort)
    return TaskListing(
        base=select(Task).where(visible_to(DEV_PRINCIPAL)),
        order=order_by(key),
        after=lambda value, last_id: after(key, value, last_id),
        created_at=Task.created_at,
        id=Task.id,
    )
