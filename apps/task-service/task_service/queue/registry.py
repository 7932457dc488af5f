"""Queue configuration (set by the operator) and stats (counted from the live table, the
dead jobs' partial index and the sharded counters, so their cost never grows with
finished history)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, delete, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from task_service.models import (
    CLAIMABLE_STATUSES,
    Queue,
    QueueCounter,
    QueueJob,
    QueueJobFinished,
    TaskStatus,
)
from task_service.queue import statements
from task_service.queue.driver import Executor, execute
from task_service.queue.errors import QueueBusy, QueueNotFound
from task_service.queue.notify import QUEUE_CHANNEL
from task_service.queue.schemas import QueueConfig, QueueStats


def _status_in(
    table: type[QueueJob | QueueJobFinished], *statuses: TaskStatus
) -> ColumnElement[bool]:
    """``status IN (...)`` with literals, so the partial indexes apply (see ``sql``)."""
    return table.status.in_([literal_column(f"'{status.value}'") for status in statuses])


async def get_queue(session: AsyncSession, name: str, *, lock: bool = False) -> Queue | None:
    query = select(Queue).where(Queue.name == name).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def list_queues(session: AsyncSession) -> list[Queue]:
    return list((await session.execute(select(Queue).order_by(Queue.name))).scalars())


async def describe_queue(session: AsyncSession, name: str) -> tuple[Queue, QueueStats]:
    """A queue's configuration and stats; ``QueueNotFound`` when it does not exist."""
    queue = await get_queue(session, name)
    if queue is None:
        raise QueueNotFound(name)
    return queue, (await queue_stats(session, [name]))[name]


async def put_queue(session: AsyncSession, name: str, config: QueueConfig) -> bool:
    """Create or replace the configuration; True when the queue was created."""
    values: dict[str, Any] = config.model_dump()
    # A (re)configured bucket starts full: one second's worth of leases.
    values["rate_tokens"] = max(1.0, config.rate_limit_per_s or 0.0)
    values["rate_refilled_at"] = func.now()
    statement = pg_insert(Queue).values(name=name, **values)
    created = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Queue.name], set_={**values, "updated_at": func.now()}
        ).returning(text("xmax = 0"))
    )
    was_created = bool(created.scalar_one())
    # Resuming or loosening limits frees capacity: wake the waiting leasers.
    await session.execute(select(func.pg_notify(QUEUE_CHANNEL, name)))
    return was_created


async def count_in_flight(session: Executor, queue: str) -> int:
    return int((await execute(session, statements.IN_FLIGHT, {"queue": queue}))[0]["in_flight"])


async def delete_queue(session: AsyncSession, name: str, *, force: bool) -> int:
    """Remove a queue: its configuration, counters and every job it has, live or
    finished; returns how many jobs went.

    Tasks in flight make this a ``QueueBusy`` unless ``force``: their workers would
    otherwise finish work nobody waits for. With ``force`` their leases are revoked (late
    answers get 409). Live jobs are deleted with a ``task.cancelled`` event each,
    finished ones without one (as retention deletes them); nothing of the queue stays
    readable, and a queue created later under the same name starts empty. The queue's
    lock (``queue_lock``) keeps enqueues and dead-letter retries out meanwhile; the live
    jobs go before the finished ones, so a job that finishes meanwhile goes too.
    """
    await execute(session, statements.LOCK_QUEUE_JOBS, {"queue": name})
    if await get_queue(session, name, lock=True) is None:
        raise QueueNotFound(name)
    if not force and (in_flight := await count_in_flight(session, name)):
        raise QueueBusy(name, in_flight)
    live = await execute(session, statements.DELETE_QUEUE_LIVE, {"queue": name})
    finished = await execute(session, statements.DELETE_QUEUE_FINISHED, {"queue": name})
    await session.execute(delete(QueueCounter).where(QueueCounter.queue == name))
    await session.execute(delete(Queue).where(Queue.name == name))
    return int(live[0]["deleted"]) + int(finished[0]["deleted"])


def _empty_stats() -> QueueStats:
    return QueueStats(
        available=0,
        scheduled=0,
        in_flight=0,
        retrying=0,
        dead=0,
        oldest_available_age_s=0.0,
        completed_total=0,
        failed_total=0,
    )


async def queue_stats(
    session: AsyncSession, names: Iterable[str] | None = None
) -> dict[str, QueueStats]:
    """Stats for the given queues (all when None) from the live table and counters.

    Only live jobs (the backlog, all of ``queue_jobs``) are counted; dead jobs have
    their own small partial index; completed/failed totals come from the sharded
    counters.
    """
    wanted = list(names) if names is not None else None
    due = and_(_status_in(QueueJob, *CLAIMABLE_STATUSES), QueueJob.run_at <= func.now())
    live = await session.execute(
        select(
            QueueJob.queue.label("name"),
            func.count().filter(due).label("available"),
            func.count()
            .filter(QueueJob.status == TaskStatus.SCHEDULED, QueueJob.run_at > func.now())
            .label("scheduled"),
            func.count()
            .filter(QueueJob.status == TaskStatus.RETRYING, QueueJob.run_at > func.now())
            .label("retrying"),
            func.count().filter(_status_in(QueueJob, TaskStatus.IN_PROGRESS)).label("in_flight"),
            func.extract("epoch", func.now() - func.min(QueueJob.run_at).filter(due)).label(
                "oldest"
            ),
        )
        .where(*([QueueJob.queue.in_(wanted)] if wanted is not None else []))
        .group_by(QueueJob.queue)
    )
    dead = await session.execute(
        select(QueueJobFinished.queue.label("name"), func.count().label("dead"))
        .where(
            _status_in(QueueJobFinished, TaskStatus.DEAD),
            *([QueueJobFinished.queue.in_(wanted)] if wanted is not None else []),
        )
        .group_by(QueueJobFinished.queue)
    )
    counter_scope = [QueueCounter.queue.in_(wanted)] if wanted is not None else []
    totals = await session.execute(
        select(
            QueueCounter.queue.label("name"),
            func.sum(QueueCounter.completed_total).label("completed_total"),
            func.sum(QueueCounter.failed_total).label("failed_total"),
        )
        .where(*counter_scope)
        .group_by(QueueCounter.queue)
    )
    queue_names = wanted
    if queue_names is None:
        queue_names = list((await session.execute(select(Queue.name))).scalars())
    stats = {name: _empty_stats() for name in queue_names}
    for row in live:
        if (stat := stats.get(row.name)) is not None:
            stat.available, stat.scheduled = row.available, row.scheduled
            stat.retrying, stat.in_flight = row.retrying, row.in_flight
            stat.oldest_available_age_s = max(0.0, float(row.oldest or 0))
    for dead_row in dead:
        if (stat := stats.get(dead_row.name)) is not None:
            stat.dead = dead_row.dead
    for total in totals:
        if (stat := stats.get(total.name)) is not None:
            stat.completed_total = int(total.completed_total)
            stat.failed_total = int(total.failed_total)
    return stats
