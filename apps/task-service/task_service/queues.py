"""The durable queue engine: plain async functions over a session, one transaction each.

Callers own the transaction (they commit). Every state change writes its outbox event
in the same transaction, and every statement that makes work available sends a NOTIFY
(delivered at commit) so long-polling leases wake up.

Correctness rests on a few rules:

* A lease is a random ``lease_id`` per attempt; heartbeat, complete, fail and release
  match ``lease_id`` *and* ``status = 'in_progress'`` *and* an unexpired lease. The
  reaper and the lazy reclaim clear ``lease_id`` when they take a task back, so a late
  answer for an old attempt matches no row (409) and cannot touch the newer attempt.
* Claiming is one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)``:
  concurrent leasers never block on, nor double-claim, the same rows.
* ``max_in_flight`` and ``rate_limit_per_s`` need a consistent view of the queue, so a
  lease on a queue that has either takes the queue row's lock first; queues without
  limits never serialise their leasers.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Double,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from task_service.crud import visible_to
from task_service.models import (
    CLAIMABLE_STATUSES,
    DEDUPE_PREDICATE,
    LIVE_STATUSES,
    Event,
    Priority,
    Queue,
    QueueCounter,
    Task,
    TaskStatus,
)
from task_service.notify import QUEUE_CHANNEL
from task_service.queue_schemas import QueueConfig, QueueStats, TaskEnqueue
from taskplane_common.errors import ProblemError
from taskplane_common.security import Principal

COUNTER_SHARDS = 16
LEASE_EXPIRED_ERROR = "lease expired before the worker reported back"


def _status_in(*statuses: TaskStatus) -> ColumnElement[bool]:
    """``status IN ('a', 'b')`` with literals, not parameters: a prepared statement's
    generic plan can only use the partial indexes when it sees their exact predicate."""
    return Task.status.in_([literal_column(f"'{status.value}'") for status in statuses])


def _seconds(value: ColumnElement[Any] | float) -> ColumnElement[Any]:
    """An interval of ``value`` seconds (a column expression or a number)."""
    return func.make_interval(0, 0, 0, 0, 0, 0, cast(value, Double))


def _task_event(type_: str, task: Task, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": type_,
        "task_id": task.id,
        "queue": task.queue,
        "owner_id": task.owner_id,
        "data": {"status": task.status, "attempt": task.attempts, **data},
    }


async def _write_events(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(Event), list(rows))


async def _notify(session: AsyncSession, queue: str) -> None:
    """Wake long-polls on ``queue`` once this transaction commits."""
    await session.execute(select(func.pg_notify(QUEUE_CHANNEL, queue)))


async def _count(session: AsyncSession, queue: str, *, completed: int = 0, failed: int = 0) -> None:
    """Add to the queue's totals on a random shard (no single hot row under load)."""
    if not completed and not failed:
        return
    statement = pg_insert(QueueCounter).values(
        queue=queue,
        shard=random.randrange(COUNTER_SHARDS),  # noqa: S311 - load spreading, not security
        completed_total=completed,
        failed_total=failed,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[QueueCounter.queue, QueueCounter.shard],
            set_={
                "completed_total": QueueCounter.completed_total
                + statement.excluded.completed_total,
                "failed_total": QueueCounter.failed_total + statement.excluded.failed_total,
            },
        )
    )


# ----------------------------------------------------------------------------- queues


async def get_queue(session: AsyncSession, name: str, *, lock: bool = False) -> Queue | None:
    query = select(Queue).where(Queue.name == name).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def ensure_queue(session: AsyncSession, name: str) -> None:
    """Enqueueing to an unconfigured queue creates it with the CRD's defaults."""
    await session.execute(pg_insert(Queue).values(name=name).on_conflict_do_nothing())


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
    await _notify(session, name)
    return was_created


async def delete_queue(session: AsyncSession, name: str, *, force: bool) -> None:
    """Remove a queue's configuration and cancel its unfinished tasks.

    Tasks in flight make this a 409 unless ``force``: their workers would otherwise
    finish work nobody waits for. With ``force`` their leases are revoked (late answers
    get 409). Finished tasks stay as history.
    """
    if await get_queue(session, name, lock=True) is None:
        raise ProblemError(404, f"queue {name!r} does not exist", slug="queue-not-found")
    if not force:
        in_flight = await session.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.queue == name, _status_in(TaskStatus.IN_PROGRESS))
        )
        if in_flight:
            raise ProblemError(
                409,
                f"queue {name!r} has {in_flight} task(s) in flight; retry with ?force=true",
                slug="queue-busy",
            )
    cancelled = (
        await session.execute(
            update(Task)
            .where(Task.queue == name, _status_in(*LIVE_STATUSES))
            .values(_final(TaskStatus.CANCELLED))
            .returning(Task)
            .execution_options(synchronize_session=False)
        )
    ).scalars()
    await _write_events(
        session, [_task_event("task.cancelled", t, {"reason": "queue deleted"}) for t in cancelled]
    )
    await session.execute(delete(QueueCounter).where(QueueCounter.queue == name))
    await session.execute(delete(Queue).where(Queue.name == name))


def _lease_cleared(**values: Any) -> dict[str, Any]:
    """Column values for a task leaving its lease: a new version, no lease, plus ``values``."""
    return {
        "lease_id": None,
        "leased_by": None,
        "lease_expires_at": None,
        "updated_at": func.now(),
        "version": Task.version + 1,
        **values,
    }


def _final(status: TaskStatus) -> dict[str, Any]:
    """Column values for a task leaving its lease (or its queue) for ``status``."""
    return _lease_cleared(
        status=status.value,
        completed_at=func.now() if status is TaskStatus.COMPLETED else None,
    )


async def _update_leased(
    session: AsyncSession,
    lease_id: uuid.UUID,
    worker_id: str | None,
    values: dict[str, Any],
    *where: ColumnElement[bool],
) -> Task:
    """Change the task that holds this lease; 409 when no task holds it any more."""
    task = (
        await session.execute(
            update(Task)
            .where(*where, *_lease_match(lease_id, worker_id))
            .values(values)
            .returning(Task)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if task is None:
        raise lease_conflict(lease_id)
    return task


async def queue_stats(
    session: AsyncSession, names: Iterable[str] | None = None
) -> dict[str, QueueStats]:
    """Stats for the given queues (all when None) from partial indexes and counters.

    Only live rows (the backlog) are counted; dead tasks have their own small partial
    index; completed/failed totals come from the sharded counters, so the cost never
    grows with the number of finished tasks.
    """
    scope: list[ColumnElement[bool]] = []
    wanted = list(names) if names is not None else None
    if wanted is not None:
        scope.append(Task.queue.in_(wanted))
    due = and_(_status_in(*CLAIMABLE_STATUSES), Task.run_at <= func.now())
    live = await session.execute(
        select(
            Task.queue,
            func.count().filter(due),
            func.count().filter(Task.status == TaskStatus.SCHEDULED, Task.run_at > func.now()),
            func.count().filter(Task.status == TaskStatus.RETRYING, Task.run_at > func.now()),
            func.count().filter(_status_in(TaskStatus.IN_PROGRESS)),
            func.extract("epoch", func.now() - func.min(Task.run_at).filter(due)),
        )
        .where(_status_in(*LIVE_STATUSES), Task.queue.is_not(None), *scope)
        .group_by(Task.queue)
    )
    dead = await session.execute(
        select(Task.queue, func.count())
        .where(_status_in(TaskStatus.DEAD), Task.queue.is_not(None), *scope)
        .group_by(Task.queue)
    )
    counter_scope = [QueueCounter.queue.in_(wanted)] if wanted is not None else []
    totals = await session.execute(
        select(
            QueueCounter.queue,
            func.sum(QueueCounter.completed_total),
            func.sum(QueueCounter.failed_total),
        )
        .where(*counter_scope)
        .group_by(QueueCounter.queue)
    )
    queue_names = wanted
    if queue_names is None:
        queue_names = list((await session.execute(select(Queue.name))).scalars())
    stats = {
        name: QueueStats(
            available=0,
            scheduled=0,
            in_flight=0,
            retrying=0,
            dead=0,
            oldest_available_age_s=0.0,
            completed_total=0,
            failed_total=0,
        )
        for name in queue_names
    }
    for name, available, scheduled, retrying, in_flight, oldest in live.all():
        if name in stats:
            stat = stats[name]
            stat.available, stat.scheduled, stat.retrying = available, scheduled, retrying
            stat.in_flight = in_flight
            stat.oldest_available_age_s = max(0.0, float(oldest or 0))
    for name, count in dead.all():
        if name in stats:
            stats[name].dead = count
    for name, completed, failed in totals.all():
        if name in stats:
            stats[name].completed_total, stats[name].failed_total = int(completed), int(failed)
    return stats


# ----------------------------------------------------------------------------- enqueue


async def enqueue(
    session: AsyncSession,
    principal: Principal,
    queue: str,
    items: Sequence[TaskEnqueue],
    traceparent: str | None,
) -> list[tuple[Task, bool]]:
    """Insert ``items`` in one statement; a live task with the same ``dedupe_key`` is
    returned instead of a new one. Returns (task, deduplicated) in input order."""
    await ensure_queue(session, queue)
    now = (await session.execute(select(func.now()))).scalar_one()
    rows = [_new_task_row(queue, item, principal, traceparent, now) for item in items]
    inserted = {
        task.id: task
        for task in (
            await session.execute(
                pg_insert(Task)
                .values(rows)
                .on_conflict_do_nothing(
                    index_elements=[Task.queue, Task.dedupe_key],
                    index_where=text(DEDUPE_PREDICATE),
                )
                .returning(Task)
            )
        ).scalars()
    }
    missing_keys = {row["dedupe_key"] for row in rows if row["id"] not in inserted}
    existing: dict[str, Task] = {}
    if missing_keys:
        found = await session.execute(
            select(Task).where(
                Task.queue == queue, Task.dedupe_key.in_(missing_keys), _status_in(*LIVE_STATUSES)
            )
        )
        existing = {task.dedupe_key or "": task for task in found.scalars()}
        if len(existing) < len(missing_keys):
            # The live holder of a key finished between our insert and select: rare,
            # and the client's retry of the whole (atomic) request resolves it.
            raise ProblemError(
                409, "a task with the same dedupe_key changed concurrently; retry", slug="conflict"
            )
    await _write_events(
        session,
        [
            _task_event("task.created", task, {"dedupe_key": task.dedupe_key})
            for task in inserted.values()
        ],
    )
    if any(task.status == TaskStatus.PENDING for task in inserted.values()):
        await _notify(session, queue)
    return [
        (inserted[row["id"]], False)
        if row["id"] in inserted
        else (existing[row["dedupe_key"]], True)
        for row in rows
    ]


def _new_task_row(
    queue: str,
    item: TaskEnqueue,
    principal: Principal,
    traceparent: str | None,
    now: datetime,
) -> dict[str, Any]:
    run_at = item.run_at or now
    if item.delay_s is not None:
        run_at = now + timedelta(seconds=item.delay_s)
    run_at = max(run_at, now)
    return {
        "id": uuid.uuid4(),
        "title": item.title or queue,
        "status": (TaskStatus.SCHEDULED if run_at > now else TaskStatus.PENDING).value,
        "priority": Priority.from_label(item.priority).value,
        "owner_id": principal.user_id,
        "queue": queue,
        "payload": item.payload,
        "max_attempts": item.max_attempts,
        "run_at": run_at,
        "timeout_s": item.timeout_s,
        "dedupe_key": item.dedupe_key,
        "traceparent": traceparent,
        "created_at": now,
        "updated_at": now,
    }


# ----------------------------------------------------------------------------- leases


@dataclass(frozen=True)
class Lease:
    tasks: list[Task]
    queue: Queue


async def lease(
    session: AsyncSession,
    queue_name: str,
    worker_id: str,
    max_tasks: int,
    *,
    timeout_grace_s: int,
    reclaim_batch: int,
) -> Lease | None:
    """Claim up to ``max_tasks`` available tasks (highest priority, then oldest).

    Returns None for an unknown queue. Expired leases of this queue are reclaimed first,
    so expiry does not wait for the reaper's next pass.
    """
    queue = await get_queue(session, queue_name)
    if queue is None:
        return None
    await reclaim_expired(session, reclaim_batch, queue=queue_name)
    limited = queue.max_in_flight is not None or queue.rate_limit_per_s is not None
    if limited:
        queue = await get_queue(session, queue_name, lock=True)
        if queue is None:
            return None
    wanted = 0 if queue.paused else max_tasks
    db_now: datetime = (await session.execute(select(func.now()))).scalar_one()
    tokens = 0.0
    if wanted and queue.max_in_flight is not None:
        in_flight = await session.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.queue == queue_name, _status_in(TaskStatus.IN_PROGRESS))
        )
        wanted = min(wanted, max(0, queue.max_in_flight - int(in_flight or 0)))
    if wanted and queue.rate_limit_per_s is not None:
        burst = max(1.0, queue.rate_limit_per_s)
        elapsed = max(0.0, (db_now - queue.rate_refilled_at).total_seconds())
        tokens = min(burst, queue.rate_tokens + elapsed * queue.rate_limit_per_s)
        wanted = min(wanted, int(tokens))
    claimed: list[Task] = []
    if wanted:
        claimed = await _claim(session, queue, worker_id, wanted, timeout_grace_s)
    if queue.rate_limit_per_s is not None and wanted:
        queue.rate_tokens = tokens - len(claimed)
        queue.rate_refilled_at = db_now
    if claimed:
        await _write_events(
            session,
            [_task_event("task.updated", t, {"worker_id": worker_id}) for t in claimed],
        )
    claimed.sort(key=lambda t: (-t.priority, t.run_at or db_now, t.id))
    return Lease(claimed, queue)


async def _claim(
    session: AsyncSession, queue: Queue, worker_id: str, limit: int, timeout_grace_s: int
) -> list[Task]:
    """The claim: one statement, ``FOR UPDATE SKIP LOCKED``, priority then age."""
    candidates = (
        select(Task.id)
        .where(Task.queue == queue.name, _status_in(*CLAIMABLE_STATUSES), Task.run_at <= func.now())
        .order_by(Task.priority.desc(), Task.run_at, Task.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    lease_s = func.least(
        queue.visibility_timeout_s,
        func.coalesce(Task.timeout_s + timeout_grace_s, queue.visibility_timeout_s),
    )
    result = await session.execute(
        update(Task)
        .where(Task.id.in_(candidates.scalar_subquery()))
        .values(
            status=TaskStatus.IN_PROGRESS.value,
            attempts=Task.attempts + 1,
            lease_id=func.gen_random_uuid(),
            leased_by=worker_id,
            leased_at=func.now(),
            lease_expires_at=func.now() + _seconds(lease_s),
            updated_at=func.now(),
            version=Task.version + 1,
        )
        .returning(Task)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars())


def _lease_match(lease_id: uuid.UUID, worker_id: str | None) -> list[ColumnElement[bool]]:
    """The one row a valid lease names: current attempt, unexpired, right worker."""
    clauses = [
        Task.lease_id == lease_id,
        _status_in(TaskStatus.IN_PROGRESS),
        Task.lease_expires_at > func.now(),
    ]
    if worker_id is not None:
        clauses.append(Task.leased_by == worker_id)
    return clauses


def lease_conflict(lease_id: uuid.UUID) -> ProblemError:
    return ProblemError(
        409,
        f"lease {lease_id} is unknown, expired or held by another worker",
        slug="lease-conflict",
    )


async def heartbeat(
    session: AsyncSession, lease_id: uuid.UUID, worker_id: str | None, timeout_grace_s: int
) -> Task:
    """Extend the lease by the queue's visibility timeout (never past ``timeout_s``)."""
    visibility = (
        select(Queue.visibility_timeout_s).where(Queue.name == Task.queue).scalar_subquery()
    )
    deadline = func.least(
        func.now() + _seconds(visibility),
        func.coalesce(
            Task.leased_at + _seconds(Task.timeout_s + timeout_grace_s),
            func.now() + _seconds(visibility),
        ),
    )
    return await _update_leased(
        session,
        lease_id,
        worker_id,
        {"lease_expires_at": func.greatest(Task.lease_expires_at, deadline)},
    )


async def complete(
    session: AsyncSession, lease_id: uuid.UUID, worker_id: str | None, result: Any
) -> Task:
    values = {
        **_final(TaskStatus.COMPLETED),
        "result": null() if result is None else result,
        "last_error": None,
    }
    task = await _update_leased(session, lease_id, worker_id, values)
    await _count(session, task.queue or "", completed=1)
    await _write_events(session, [_task_event("task.completed", task, {})])
    await _notify(session, task.queue or "")
    return task


def _retry_delay_s(base: Any, cap: Any, attempts: Any) -> ColumnElement[Any]:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2^(attempt-1)))."""
    return func.random() * func.least(cap, base * func.power(2, func.greatest(attempts - 1, 0)))


async def fail(
    session: AsyncSession,
    lease_id: uuid.UUID,
    worker_id: str | None,
    error: str,
    *,
    retryable: bool,
) -> Task:
    """A failed attempt: retry after a backoff, or ``dead`` past ``max_attempts``."""
    limit = func.coalesce(Task.max_attempts, Queue.max_attempts)
    dies = or_(literal(not retryable), Task.attempts >= limit)
    backoff = _retry_delay_s(Queue.backoff_base_s, Queue.backoff_max_s, Task.attempts)
    values = _lease_cleared(
        status=case((dies, TaskStatus.DEAD.value), else_=TaskStatus.RETRYING.value),
        run_at=case((dies, Task.run_at), else_=func.now() + _seconds(backoff)),
        last_error=error[:4000],
    )
    task = await _update_leased(session, lease_id, worker_id, values, Queue.name == Task.queue)
    await _after_failure(session, [task], {"error": error[:4000], "retryable": retryable})
    return task


async def _after_failure(
    session: AsyncSession, tasks: Sequence[Task], data: dict[str, Any]
) -> None:
    """Counters, events and wake-ups shared by a reported failure and an expired lease."""
    events: list[dict[str, Any]] = []
    for task in tasks:
        retry = {}
        if task.status != TaskStatus.DEAD and task.run_at is not None:
            retry = {"retry_at": task.run_at.isoformat()}
        events.append(_task_event("task.failed", task, {**data, **retry}))
        if task.status == TaskStatus.DEAD:
            events.append(_task_event("task.dead", task, {"error": task.last_error}))
    await _write_events(session, events)
    for queue in sorted({task.queue or "" for task in tasks}):
        failed = sum(1 for task in tasks if task.queue == queue)
        await _count(session, queue, failed=failed)
        await _notify(session, queue)


async def release(session: AsyncSession, lease_id: uuid.UUID, worker_id: str | None) -> Task:
    """Give a task back untouched (a draining worker): available now, attempt not counted."""
    values = _lease_cleared(
        status=TaskStatus.PENDING.value, attempts=Task.attempts - 1, run_at=func.now()
    )
    task = await _update_leased(session, lease_id, worker_id, values)
    await _write_events(session, [_task_event("task.updated", task, {"reason": "released"})])
    await _notify(session, task.queue or "")
    return task


async def reclaim_expired(session: AsyncSession, limit: int, *, queue: str | None = None) -> int:
    """Take back tasks whose lease expired: available again, or ``dead`` when the
    expired attempt was the last. Clearing ``lease_id`` is what makes a late answer
    from the old attempt a 409."""
    expired = (
        select(Task.id)
        .where(_status_in(TaskStatus.IN_PROGRESS), Task.lease_expires_at < func.now())
        .order_by(Task.lease_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if queue is not None:
        expired = expired.where(Task.queue == queue)
    limit_expr = func.coalesce(
        Task.max_attempts,
        select(Queue.max_attempts).where(Queue.name == Task.queue).scalar_subquery(),
        QueueConfig.model_fields["max_attempts"].default,
    )
    dies = Task.attempts >= limit_expr
    tasks = list(
        (
            await session.execute(
                update(Task)
                .where(Task.id.in_(expired.scalar_subquery()))
                .values(
                    _lease_cleared(
                        status=case((dies, TaskStatus.DEAD.value), else_=TaskStatus.PENDING.value),
                        run_at=case((dies, Task.run_at), else_=func.now()),
                        last_error=LEASE_EXPIRED_ERROR,
                    )
                )
                .returning(Task)
                .execution_options(synchronize_session=False)
            )
        ).scalars()
    )
    if tasks:
        await _after_failure(session, tasks, {"error": LEASE_EXPIRED_ERROR, "retryable": True})
    return len(tasks)


# ----------------------------------------------------------------------------- dead letters, cancel


async def list_dead(session: AsyncSession, queue: str, limit: int) -> list[Task]:
    query = (
        select(Task)
        .where(Task.queue == queue, _status_in(TaskStatus.DEAD))
        .order_by(Task.updated_at.desc(), Task.id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def retry_dead(session: AsyncSession, queue: str, task_id: uuid.UUID) -> Task:
    """A dead task gets a fresh set of attempts, available now."""
    try:
        task = (
            await session.execute(
                update(Task)
                .where(Task.id == task_id, Task.queue == queue, _status_in(TaskStatus.DEAD))
                .values(
                    status=TaskStatus.PENDING.value,
                    attempts=0,
                    run_at=func.now(),
                    updated_at=func.now(),
                    version=Task.version + 1,
                )
                .returning(Task)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one_or_none()
    except IntegrityError as exc:
        raise ProblemError(
            409, "another live task holds this task's dedupe_key", slug="dedupe-conflict"
        ) from exc
    if task is None:
        raise ProblemError(
            404, f"no dead task {task_id} in queue {queue!r}", slug="dead-task-not-found"
        )
    await _write_events(session, [_task_event("task.updated", task, {"reason": "dead_retry"})])
    await _notify(session, queue)
    return task


async def cancel(session: AsyncSession, principal: Principal, task_id: uuid.UUID) -> Task:
    """Cancel a task that has not finished; a worker holding it loses its lease (409)."""
    task = (
        await session.execute(
            update(Task)
            .where(Task.id == task_id, visible_to(principal), _status_in(*LIVE_STATUSES))
            .values(_final(TaskStatus.CANCELLED))
            .returning(Task)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if task is not None:
        await _write_events(session, [_task_event("task.cancelled", task, {})])
        return task
    status = await session.scalar(
        select(Task.status).where(Task.id == task_id, visible_to(principal))
    )
    if status is None:
        raise ProblemError(404, f"task {task_id} does not exist", slug="task-not-found")
    raise ProblemError(409, f"task {task_id} is already {status}", slug="task-finished")


async def list_queues(session: AsyncSession) -> list[Queue]:
    return list((await session.execute(select(Queue).order_by(Queue.name))).scalars())
