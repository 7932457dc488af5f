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

import json
import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Double,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement, TextClause

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


# ----------------------------------------------------------------------------- hot-path SQL
#
# The hot paths (enqueue, lease, heartbeat, complete, fail, release) are each one SQL
# statement: a data-modifying CTE changes the task rows, writes their outbox events,
# bumps the counters and sends the wake-up, returning only the columns the caller needs.
# One round trip, no ORM entities, and a fixed statement text that psycopg prepares once
# per connection. Every part of a statement runs in the caller's transaction, so the
# outbox guarantee is unchanged: an event row commits exactly when its change does.
#
# The templates below are filled with ``_SQL`` (module constants: status literals and
# shared fragments, never input); all values travel as bound parameters.


def _interval_s(value: str) -> str:
    return f"make_interval(0, 0, 0, 0, 0, 0, CAST({value} AS double precision))"


_LEASED = (
    "id, title, payload, priority, attempts, max_attempts, timeout_s, "
    "lease_id, lease_expires_at, traceparent, created_at, run_at, leased_at"
)
_OUTCOME = "id, queue, status, attempts, run_at, leased_at, lease_expires_at"


def _qualified(columns: str, table: str) -> str:
    return ", ".join(f"{table}.{column}" for column in columns.split(", "))


_SQL: dict[str, str] = {
    "pending": f"'{TaskStatus.PENDING.value}'",
    "scheduled": f"'{TaskStatus.SCHEDULED.value}'",
    "in_progress": f"'{TaskStatus.IN_PROGRESS.value}'",
    "retrying": f"'{TaskStatus.RETRYING.value}'",
    "completed": f"'{TaskStatus.COMPLETED.value}'",
    "dead": f"'{TaskStatus.DEAD.value}'",
    "claimable": ", ".join(f"'{status.value}'" for status in CLAIMABLE_STATUSES),
    "dedupe_predicate": DEDUPE_PREDICATE,
    "delay": _interval_s("i->>'delay_s'"),
    "lease_length": _interval_s(
        "least(cfg.visibility_timeout_s, coalesce(t.timeout_s + :grace, cfg.visibility_timeout_s))"
    ),
    "visibility": _interval_s("q.visibility_timeout_s"),
    "timeout": _interval_s("t.timeout_s + :grace"),
    # Exponential backoff with full jitter: uniform(0, min(cap, base * 2^(attempt-1))).
    "backoff": _interval_s(
        "random() * least(q.backoff_max_s,"
        " q.backoff_base_s * power(2, greatest(t.attempts - 1, 0)))"
    ),
    "dies": "(NOT :retryable OR t.attempts >= coalesce(t.max_attempts, q.max_attempts))",
    # A lease names one row: this attempt's lease id, still in progress, unexpired, and
    # (when a worker id is given) held by that worker.
    "lease_match": (
        f"t.lease_id = :lease_id AND t.status = '{TaskStatus.IN_PROGRESS.value}'"
        " AND t.lease_expires_at > now()"
        " AND (CAST(:worker AS text) IS NULL OR t.leased_by = CAST(:worker AS text))"
    ),
    "clear_lease": (
        "lease_id = NULL, leased_by = NULL, lease_expires_at = NULL,"
        " updated_at = now(), version = t.version + 1"
    ),
    "leased": _LEASED,
    "leased_t": _qualified(_LEASED, "t"),
    "leased_claimed": _qualified(_LEASED, "claimed"),
    "outcome": _OUTCOME,
    "outcome_t": _qualified(_OUTCOME, "t"),
}


def _sql(template: str) -> TextClause:
    """``text()`` of ``template`` with ``_SQL`` filled in."""
    return text(template.format_map(_SQL))


#: Counters of the rows of the CTE ``src`` (columns ``queue``), added to one shard per
#: queue (in queue order, so two batches never lock shards in opposite orders).
_COUNT_COMPLETED = """
    INSERT INTO tasks.queue_counters AS c (queue, shard, completed_total, failed_total)
    SELECT queue, :shard, count(*), 0 FROM src GROUP BY queue ORDER BY queue
    ON CONFLICT (queue, shard)
    DO UPDATE SET completed_total = c.completed_total + excluded.completed_total
"""
_COUNT_FAILED = """
    INSERT INTO tasks.queue_counters AS c (queue, shard, completed_total, failed_total)
    SELECT queue, :shard, 0, count(*) FROM src GROUP BY queue ORDER BY queue
    ON CONFLICT (queue, shard)
    DO UPDATE SET failed_total = c.failed_total + excluded.failed_total
"""

#: Enqueue a JSON array of task rows: create the queue if unconfigured, insert (a live
#: task with the same dedupe_key wins), write ``task.created`` events, and wake
#: long-polls once when something is available now.
_ENQUEUE = _sql(
    """
    WITH queue_row AS (
        INSERT INTO tasks.queues (name) VALUES (:queue) ON CONFLICT DO NOTHING
    ), input AS (
        SELECT CAST(i->>'id' AS uuid) AS id, i->>'title' AS title,
               CAST(i->>'priority' AS smallint) AS priority, i->'payload' AS payload,
               CAST(i->>'max_attempts' AS integer) AS max_attempts,
               CAST(i->>'timeout_s' AS integer) AS timeout_s, i->>'dedupe_key' AS dedupe_key,
               greatest(now(), coalesce(
                   CAST(i->>'run_at' AS timestamptz), now() + {delay}, now())) AS run_at,
               n
        FROM jsonb_array_elements(CAST(:items AS jsonb)) WITH ORDINALITY AS items(i, n)
    ), src AS (
        INSERT INTO tasks.tasks (id, title, status, priority, owner_id, queue, payload,
                                 max_attempts, run_at, timeout_s, dedupe_key, traceparent)
        SELECT id, title, CASE WHEN run_at > now() THEN {scheduled} ELSE {pending} END,
               priority, CAST(:owner AS uuid), :queue, payload, max_attempts, run_at,
               timeout_s, dedupe_key, :traceparent
        FROM input ORDER BY n
        ON CONFLICT (queue, dedupe_key) WHERE {dedupe_predicate} DO NOTHING
        RETURNING id, status, run_at, created_at, owner_id, dedupe_key
    ), events AS (
        INSERT INTO tasks.events (type, task_id, queue, owner_id, data)
        SELECT 'task.created', id, :queue, owner_id,
               jsonb_build_object('status', status, 'attempt', 0, 'dedupe_key', dedupe_key)
        FROM src
    )
    SELECT id, status, run_at, created_at,
           (SELECT count(pg_notify(:channel, :queue))
            FROM (SELECT FROM src WHERE status = {pending} LIMIT 1) AS available) AS woke
    FROM src
    """
)

#: The claim (one ``UPDATE``, ``FOR UPDATE SKIP LOCKED``, priority then age) and its
#: ``task.updated`` events. ``{gate}`` and ``{select}`` make the two variants below.
_CLAIM_TEMPLATE = """
    WITH cfg AS (
        SELECT visibility_timeout_s, max_attempts, paused,
               (paused OR max_in_flight IS NOT NULL OR rate_limit_per_s IS NOT NULL) AS limited
        FROM tasks.queues WHERE name = :queue
    ), claimed AS (
        UPDATE tasks.tasks AS t SET
            status = {in_progress}, attempts = t.attempts + 1, lease_id = gen_random_uuid(),
            leased_by = :worker, leased_at = now(), lease_expires_at = now() + {lease_length},
            updated_at = now(), version = t.version + 1
        FROM cfg
        WHERE t.id IN (
            SELECT id FROM tasks.tasks
            WHERE queue = :queue AND status IN ({claimable}) AND run_at <= now() [gate]
            ORDER BY priority DESC, run_at, id
            LIMIT :limit
            FOR UPDATE SKIP LOCKED
        )
        RETURNING {leased_t}, t.owner_id
    ), events AS (
        INSERT INTO tasks.events (type, task_id, queue, owner_id, data)
        SELECT 'task.updated', id, :queue, owner_id,
               jsonb_build_object('status', {in_progress}, 'attempt', attempts,
                                  'worker_id', CAST(:worker AS text))
        FROM claimed
    )
    [select]
"""

#: The common lease: the claim only happens on an unpaused queue without limits (the
#: one-time filter keeps it from even locking rows otherwise), and the row(s) also carry
#: the queue's configuration and whether any lease has expired (an index probe), so the
#: lazy reclaim only runs when there is something to reclaim.
_LEASE = _sql(
    _CLAIM_TEMPLATE.replace("[gate]", "AND NOT (SELECT limited FROM cfg)").replace(
        "[select]",
        """
    SELECT cfg.visibility_timeout_s, cfg.max_attempts, cfg.paused, cfg.limited,
           EXISTS (SELECT FROM tasks.tasks
                   WHERE status = {in_progress} AND lease_expires_at < now()) AS expired,
           {leased_claimed}
    FROM cfg LEFT JOIN claimed ON true
    """,
    )
)
#: The claim alone, for a known number of tasks (a limited queue, or a top-up).
_CLAIM = _sql(
    _CLAIM_TEMPLATE.replace("[gate]", "").replace("[select]", "SELECT {leased} FROM claimed")
)

_HEARTBEAT = _sql(
    """
    UPDATE tasks.tasks AS t SET lease_expires_at = greatest(t.lease_expires_at, least(
        now() + {visibility}, coalesce(t.leased_at + {timeout}, now() + {visibility})
    ))
    FROM tasks.queues AS q
    WHERE q.name = t.queue AND {lease_match}
    RETURNING {outcome_t}
    """
)

#: Complete every valid lease of a JSON array of ``{lease_id, result}``. Only a queue
#: with ``max_in_flight`` has waiters a completion can help (it frees a slot).
_COMPLETE = _sql(
    """
    WITH input AS (
        SELECT i.lease_id, nullif(i.result, 'null'::jsonb) AS result
        FROM jsonb_to_recordset(CAST(:items AS jsonb)) AS i(lease_id uuid, result jsonb)
    ), src AS (
        UPDATE tasks.tasks AS t SET
            status = {completed}, completed_at = now(), result = input.result,
            last_error = NULL, {clear_lease}
        FROM input
        WHERE t.lease_id = input.lease_id AND t.status = {in_progress}
          AND t.lease_expires_at > now()
          AND (CAST(:worker AS text) IS NULL OR t.leased_by = CAST(:worker AS text))
        RETURNING {outcome_t}, t.owner_id, input.lease_id AS lease
    ), events AS (
        INSERT INTO tasks.events (type, task_id, queue, owner_id, data)
        SELECT 'task.completed', id, queue, owner_id,
               jsonb_build_object('status', status, 'attempt', attempts)
        FROM src ORDER BY id
    ), counted AS ([count])
    SELECT {outcome}, lease,
           (SELECT count(pg_notify(:channel, q.name)) FROM tasks.queues AS q
            WHERE q.name IN (SELECT queue FROM src) AND q.max_in_flight IS NOT NULL) AS woke
    FROM src
    """.replace("[count]", _COUNT_COMPLETED)
)

#: A failed attempt: ``retrying`` after a backoff, or ``dead`` past ``max_attempts``
#: (or when not retryable); ``task.failed`` (+ ``task.dead``) events, counter, wake-up.
_FAIL = _sql(
    """
    WITH src AS (
        UPDATE tasks.tasks AS t SET
            status = CASE WHEN {dies} THEN {dead} ELSE {retrying} END,
            run_at = CASE WHEN {dies} THEN t.run_at ELSE now() + {backoff} END,
            last_error = :error, {clear_lease}
        FROM tasks.queues AS q
        WHERE q.name = t.queue AND {lease_match}
        RETURNING {outcome_t}, t.owner_id, t.last_error
    ), events AS (
        INSERT INTO tasks.events (type, task_id, queue, owner_id, data)
        SELECT e.type, src.id, src.queue, src.owner_id, e.data
        FROM src CROSS JOIN LATERAL (VALUES
            (1, 'task.failed',
             jsonb_build_object('status', src.status, 'attempt', src.attempts,
                                'error', CAST(:error AS text), 'retryable', :retryable)
             || CASE WHEN src.status <> {dead} AND src.run_at IS NOT NULL
                     THEN jsonb_build_object('retry_at', src.run_at) ELSE '{{}}' END),
            (2, 'task.dead',
             jsonb_build_object('status', src.status, 'attempt', src.attempts,
                                'error', src.last_error))
        ) AS e(n, type, data)
        WHERE e.n = 1 OR src.status = {dead}
        ORDER BY src.id, e.n
    ), counted AS ([count])
    SELECT {outcome}, pg_notify(:channel, queue) AS woke FROM src
    """.replace("[count]", _COUNT_FAILED)
)

_RELEASE = _sql(
    """
    WITH src AS (
        UPDATE tasks.tasks AS t SET
            status = {pending}, attempts = t.attempts - 1, run_at = now(), {clear_lease}
        WHERE {lease_match}
        RETURNING {outcome_t}, t.owner_id
    ), events AS (
        INSERT INTO tasks.events (type, task_id, queue, owner_id, data)
        SELECT 'task.updated', id, queue, owner_id,
               jsonb_build_object('status', status, 'attempt', attempts, 'reason', 'released')
        FROM src
    )
    SELECT {outcome}, pg_notify(:channel, queue) AS woke FROM src
    """
)


async def autocommit(session: AsyncSession) -> None:
    """Let each statement of ``session`` commit by itself, for callers of the lease
    actions (heartbeat, complete, complete_many, fail, release): each is one statement,
    atomic on its own, so this only saves the ``BEGIN`` and ``COMMIT`` round trips. Call
    it before the session's first statement; the pool resets the connection afterwards.
    """
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def _shard() -> int:
    return random.randrange(COUNTER_SHARDS)  # noqa: S311 - load spreading, not security


# ----------------------------------------------------------------------------- enqueue


@dataclass(slots=True)
class QueuedTask:
    """A task as the enqueue call returns it (the columns ``QueuedTaskOut`` shows)."""

    id: uuid.UUID
    queue: str | None
    title: str
    status: str
    priority: int
    payload: dict[str, Any] | None
    attempts: int
    max_attempts: int | None
    run_at: datetime | None
    timeout_s: int | None
    dedupe_key: str | None
    last_error: str | None
    result: Any
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


async def enqueue(
    session: AsyncSession,
    principal: Principal,
    queue: str,
    items: Sequence[TaskEnqueue],
    traceparent: str | None,
) -> list[tuple[QueuedTask | Task, bool]]:
    """Insert ``items`` in one statement (with their events and the wake-up); a live task
    with the same ``dedupe_key`` is returned instead of a new one. Returns (task,
    deduplicated) in input order. An unconfigured queue is created with the defaults."""
    ids = [uuid.uuid4() for _ in items]
    rows = [
        {
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
        for task_id, item in zip(ids, items, strict=True)
    ]
    result = await session.execute(
        _ENQUEUE,
        {
            "queue": queue,
            "items": json.dumps(rows, separators=(",", ":")),
            "owner": principal.user_id,
            "traceparent": traceparent,
            "channel": QUEUE_CHANNEL,
        },
    )
    inserted = {row[0]: row for row in result}
    out: list[tuple[QueuedTask | Task, bool] | None] = []
    for task_id, item in zip(ids, items, strict=True):
        found = inserted.get(task_id)
        if found is None:
            out.append(None)  # deduplicated: filled in below
            continue
        _, status, run_at, created_at, _ = found
        task = QueuedTask(
            id=task_id,
            queue=queue,
            title=item.title or queue,
            status=status,
            priority=Priority.from_label(item.priority).value,
            payload=item.payload,
            attempts=0,
            max_attempts=item.max_attempts,
            run_at=run_at,
            timeout_s=item.timeout_s,
            dedupe_key=item.dedupe_key,
            last_error=None,
            result=None,
            created_at=created_at,
            updated_at=created_at,
            completed_at=None,
        )
        out.append((task, False))
    if len(inserted) == len(items):
        return [entry for entry in out if entry is not None]
    keys = {item.dedupe_key for item, entry in zip(items, out, strict=True) if entry is None}
    found_rows = await session.execute(
        select(Task).where(
            Task.queue == queue, Task.dedupe_key.in_(keys), _status_in(*LIVE_STATUSES)
        )
    )
    existing = {task.dedupe_key: task for task in found_rows.scalars()}
    if len(existing) < len(keys):
        # The live holder of a key finished between our insert and select: rare,
        # and the client's retry of the whole (atomic) request resolves it.
        raise ProblemError(
            409, "a task with the same dedupe_key changed concurrently; retry", slug="conflict"
        )
    return [
        entry if entry is not None else (existing[item.dedupe_key], True)
        for item, entry in zip(items, out, strict=True)
    ]


# ----------------------------------------------------------------------------- leases


@dataclass(slots=True)
class Leased:
    """A task just leased: what the worker gets (``LeasedTask``) and the metrics need."""

    id: uuid.UUID
    title: str
    payload: dict[str, Any] | None
    priority: int
    attempts: int
    max_attempts: int | None
    timeout_s: int | None
    lease_id: uuid.UUID
    lease_expires_at: datetime
    traceparent: str | None
    created_at: datetime
    run_at: datetime
    leased_at: datetime


@dataclass(frozen=True)
class Lease:
    tasks: list[Leased]
    visibility_timeout_s: int
    #: The queue's ``max_attempts`` (a task's own overrides it).
    max_attempts: int


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

    Returns None for an unknown queue. A queue without limits is one statement (claim,
    events, configuration, and whether any lease has expired). When a lease has expired,
    this queue's expired leases are reclaimed here too and the claim tops up, so expiry
    does not wait for the reaper's next pass. Paused and limited queues take the
    queue row's lock and go the careful way.
    """
    params = {
        "queue": queue_name,
        "worker": worker_id,
        "limit": max_tasks,
        "grace": timeout_grace_s,
    }
    rows = (await session.execute(_LEASE, params)).all()
    if not rows:
        return None
    visibility, max_attempts, paused, limited, expired = rows[0][:5]
    claimed = [Leased(*row[5:]) for row in rows if row[5] is not None]
    reclaimed = expired and await reclaim_expired(session, reclaim_batch, queue=queue_name)
    if reclaimed and not limited and len(claimed) < max_tasks:
        params["limit"] = max_tasks - len(claimed)
        claimed += [Leased(*row) for row in await session.execute(_CLAIM, params)]
    if limited and not paused:
        claimed = await _lease_limited(session, queue_name, params)
    claimed.sort(key=lambda t: (-t.priority, t.run_at, t.id))
    return Lease(claimed, visibility, max_attempts)


async def _lease_limited(
    session: AsyncSession, queue_name: str, params: dict[str, Any]
) -> list[Leased]:
    """``max_in_flight`` and ``rate_limit_per_s`` need a consistent view of the queue:
    take its row lock, then claim what the limits allow."""
    queue = await get_queue(session, queue_name, lock=True)
    if queue is None or queue.paused:
        return []
    wanted = int(params["limit"])
    db_now: datetime = (await session.execute(select(func.now()))).scalar_one()
    tokens = 0.0
    if queue.max_in_flight is not None:
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
    claimed: list[Leased] = []
    if wanted:
        result = await session.execute(_CLAIM, {**params, "limit": wanted})
        claimed = [Leased(*row) for row in result]
    if queue.rate_limit_per_s is not None and wanted:
        queue.rate_tokens = tokens - len(claimed)
        queue.rate_refilled_at = db_now
    return claimed


def lease_conflict(lease_id: uuid.UUID) -> ProblemError:
    return ProblemError(
        409,
        f"lease {lease_id} is unknown, expired or held by another worker",
        slug="lease-conflict",
    )


@dataclass(slots=True)
class LeaseOutcome:
    """A task after a lease action (what ``LeaseResult`` and the metrics need)."""

    id: uuid.UUID
    queue: str | None
    status: str
    attempts: int
    run_at: datetime | None
    leased_at: datetime | None
    lease_expires_at: datetime | None


async def _lease_action(
    session: AsyncSession, statement: Any, lease_id: uuid.UUID, params: dict[str, Any]
) -> LeaseOutcome:
    """Run a one-row lease statement; 409 when no task holds this lease any more."""
    row = (await session.execute(statement, {"lease_id": lease_id, **params})).first()
    if row is None:
        raise lease_conflict(lease_id)
    return LeaseOutcome(*row[:7])


async def heartbeat(
    session: AsyncSession, lease_id: uuid.UUID, worker_id: str | None, timeout_grace_s: int
) -> LeaseOutcome:
    """Extend the lease by the queue's visibility timeout (never past ``timeout_s``)."""
    return await _lease_action(
        session, _HEARTBEAT, lease_id, {"worker": worker_id, "grace": timeout_grace_s}
    )


async def complete(
    session: AsyncSession, lease_id: uuid.UUID, worker_id: str | None, result: Any
) -> LeaseOutcome:
    done = await complete_many(session, [(lease_id, result)], worker_id)
    outcome = done.get(lease_id)
    if outcome is None:
        raise lease_conflict(lease_id)
    return outcome


async def complete_many(
    session: AsyncSession, items: Sequence[tuple[uuid.UUID, Any]], worker_id: str | None
) -> dict[uuid.UUID, LeaseOutcome]:
    """Complete several leases in one statement; returns the ones that were valid (the
    others changed nothing). Lease ids must be distinct."""
    payload = [{"lease_id": str(lease_id), "result": result} for lease_id, result in items]
    rows = await session.execute(
        _COMPLETE,
        {
            "items": json.dumps(payload, separators=(",", ":")),
            "worker": worker_id,
            "shard": _shard(),
            "channel": QUEUE_CHANNEL,
        },
    )
    return {row[7]: LeaseOutcome(*row[:7]) for row in rows}


async def fail(
    session: AsyncSession,
    lease_id: uuid.UUID,
    worker_id: str | None,
    error: str,
    *,
    retryable: bool,
) -> LeaseOutcome:
    """A failed attempt: retry after a backoff (exponential, full jitter), or ``dead``
    past ``max_attempts``."""
    return await _lease_action(
        session,
        _FAIL,
        lease_id,
        {
            "worker": worker_id,
            "error": error[:4000],
            "retryable": retryable,
            "shard": _shard(),
            "channel": QUEUE_CHANNEL,
        },
    )


async def _after_failure(
    session: AsyncSession, tasks: Sequence[Task], data: dict[str, Any]
) -> None:
    """Counters, events and wake-ups of expired leases."""
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


async def release(
    session: AsyncSession, lease_id: uuid.UUID, worker_id: str | None
) -> LeaseOutcome:
    """Give a task back untouched (a draining worker): available now, attempt not counted."""
    return await _lease_action(
        session, _RELEASE, lease_id, {"worker": worker_id, "channel": QUEUE_CHANNEL}
    )


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
    """Cancel a task that has not finished; a worker holding it loses its lease (409).

    People cancel the tasks they can see; a ``queues:admin`` token any queued task.
    """
    visible = true() if principal.has_scope("queues:admin") else visible_to(principal)
    task = (
        await session.execute(
            update(Task)
            .where(Task.id == task_id, visible, _status_in(*LIVE_STATUSES))
            .values(_final(TaskStatus.CANCELLED))
            .returning(Task)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if task is not None:
        await _write_events(session, [_task_event("task.cancelled", task, {})])
        return task
    status = await session.scalar(select(Task.status).where(Task.id == task_id, visible))
    if status is None:
        raise ProblemError(404, f"task {task_id} does not exist", slug="task-not-found")
    raise ProblemError(409, f"task {task_id} is already {status}", slug="task-finished")


async def list_queues(session: AsyncSession) -> list[Queue]:
    return list((await session.execute(select(Queue).order_by(Queue.name))).scalars())
