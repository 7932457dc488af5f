"""Leases: the claim (and its long-poll wait), heartbeat, complete, fail and release.

Correctness rests on a few rules:

* A lease is a random ``lease_id`` per attempt; heartbeat, complete, fail and release
  match ``lease_id`` *and* ``status = 'in_progress'`` *and* an unexpired lease. The
  rescuer and the lazy reclaim clear ``lease_id`` when they take a task back, so a late
  answer for an old attempt matches no row (``LeaseConflict``).
* Claiming is one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)``:
  concurrent leasers never block on, nor double-claim, the same rows.
* ``max_in_flight`` and ``rate_limit_per_s`` need a consistent view of the queue, so a
  lease on a queue that has either takes the queue row's lock first; queues without
  limits never serialise their leasers.
* A lease is only claimed for a client that is still there, and handed back at once
  (attempt not counted) when it cannot be delivered: see ``lease_wait``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from task_service.queue import statements
from task_service.queue.counters import counter_shard
from task_service.queue.driver import (
    Executor,
    Row,
    Statement,
    connection_of,
    execute,
    json_param,
)
from task_service.queue.errors import LeaseConflict, LeaseOutOfScope, QueueNotFound
from task_service.queue.maintenance.rescuer import rescue_expired
from task_service.queue.metrics import HANDED_BACK
from task_service.queue.notify import QUEUE_CHANNEL, Notifier
from task_service.queue.pool import QueuePool
from task_service.queue.records import (
    Completed,
    Leased,
    LeaseGate,
    LeaseOutcome,
    QueueLimits,
    record,
)
from task_service.queue.registry import count_in_flight


async def autocommit(session: AsyncSession) -> None:
    """Let each statement of ``session`` commit by itself, for callers of the lease
    actions (heartbeat, complete, complete_many, fail, release): each is one statement,
    atomic on its own, so this only saves the ``BEGIN`` and ``COMMIT`` round trips. Call
    it before the session's first statement; the pool resets the connection afterwards.
    """
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


@dataclass(frozen=True)
class Lease:
    tasks: list[Leased]
    visibility_timeout_s: int
    #: The queue's ``max_attempts`` (a task's own overrides it).
    max_attempts: int


async def lease(
    session: Executor,
    queue: str,
    worker_id: str,
    max_tasks: int,
    *,
    timeout_grace_s: int,
    reclaim_batch: int,
) -> Lease:
    """Claim up to ``max_tasks`` available tasks (highest priority, then oldest).

    A queue without limits is one statement (claim, events, configuration, and whether
    any lease has expired). When a lease has expired, this queue's expired leases are
    reclaimed here too and the claim tops up, so expiry does not wait for the rescuer's
    next pass. Paused and limited queues take the queue row's lock and go the careful way.
    ``timeout_grace_s`` is the lease time past a task's ``timeout_s`` for the worker to
    report the timeout; ``reclaim_batch`` caps the lazy reclaim.
    """
    params: dict[str, Any] = {
        "queue": queue,
        "worker": worker_id,
        "limit": max_tasks,
        "grace": timeout_grace_s,
    }
    rows = await execute(session, statements.LEASE, params)
    if not rows:
        raise QueueNotFound(queue)
    gate = record(LeaseGate, rows[0])
    claimed = [record(Leased, row) for row in rows if row["id"] is not None]
    reclaimed = gate.expired and await rescue_expired(session, reclaim_batch, queue=queue)
    if reclaimed and not gate.limited and len(claimed) < max_tasks:
        claimed += await _claim(session, params, max_tasks - len(claimed))
    if gate.limited and not gate.paused:
        claimed = await _lease_limited(session, queue, params)
    claimed.sort(key=lambda t: (-t.priority, t.run_at, t.id))
    return Lease(claimed, gate.visibility_timeout_s, gate.queue_max_attempts)


async def _claim(session: Executor, params: dict[str, Any], limit: int) -> list[Leased]:
    rows = await execute(session, statements.CLAIM, {**params, "limit": limit})
    return [record(Leased, row) for row in rows]


async def _lease_limited(
    session: Executor, queue_name: str, params: dict[str, Any]
) -> list[Leased]:
    """``max_in_flight`` and ``rate_limit_per_s`` need a consistent view of the queue:
    take its row lock, then claim what the limits allow, in one transaction (a
    savepoint when the caller's transaction is open)."""
    async with (await connection_of(session)).transaction():
        rows = await execute(session, statements.LOCK_LIMITS, {"queue": queue_name})
        if not rows or (limits := record(QueueLimits, rows[0])).paused:
            return []
        wanted = int(params["limit"])
        tokens = 0.0
        if limits.max_in_flight is not None:
            in_flight = await count_in_flight(session, queue_name)
            wanted = min(wanted, max(0, limits.max_in_flight - in_flight))
        if wanted and limits.rate_limit_per_s is not None:
            burst = max(1.0, limits.rate_limit_per_s)
            elapsed = max(0.0, (limits.now - limits.rate_refilled_at).total_seconds())
            tokens = min(burst, limits.rate_tokens + elapsed * limits.rate_limit_per_s)
            wanted = min(wanted, int(tokens))
        claimed = await _claim(session, params, wanted) if wanted else []
        if limits.rate_limit_per_s is not None and wanted:
            spent = {"queue": queue_name, "tokens": tokens - len(claimed), "now": limits.now}
            await execute(session, statements.SPEND_TOKENS, spent)
        return claimed


#: Whether the client that asked for a lease has gone away.
ClientGone = Callable[[], Awaitable[bool]]


@asynccontextmanager
async def _attempt(source: AsyncSession | QueuePool) -> AsyncIterator[Executor]:
    """What one claim runs on: the session (committed after it), or a connection of the
    pool held for that claim only (a long-poll holds none while it waits)."""
    if isinstance(source, QueuePool):
        async with source.connection() as connection:
            yield connection
    else:
        yield source
        await source.commit()


async def lease_wait(
    session: AsyncSession | QueuePool,
    notifier: Notifier,
    queue: str,
    worker_id: str,
    max_tasks: int,
    *,
    wait_s: float,
    timeout_grace_s: int,
    reclaim_batch: int,
    client_gone: ClientGone,
) -> Lease:
    """``lease``, long-polling up to ``wait_s`` for tasks, one transaction per attempt.

    Nothing is claimed for a client that has gone (a worker killed while it waited):
    ``client_gone`` is asked before every claim, and what was claimed while it left is
    handed back at once, so no task waits out a visibility timeout for a dead socket.
    Every step is atomic by itself: given a session, call ``autocommit`` first to spare
    the ``BEGIN`` and ``COMMIT`` round trips (one round trip per claim); given the hot
    routes' ``QueuePool``, each claim takes an autocommit connection for itself.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    # Subscribed before the first claim: a queue's NOTIFY is only sent when it goes from
    # empty to non-empty, so one that lands while a claim runs must wake the next wait.
    with notifier.subscribe(QUEUE_CHANNEL, queue) as wake_up:
        while True:
            if await client_gone():
                return Lease([], 0, 0)
            async with _attempt(session) as executor:
                granted = await lease(
                    executor,
                    queue,
                    worker_id,
                    max_tasks,
                    timeout_grace_s=timeout_grace_s,
                    reclaim_batch=reclaim_batch,
                )
            remaining = deadline - loop.time()
            if granted.tasks or remaining <= 0:
                break
            await wake_up.wait(remaining)
    if granted.tasks and await client_gone():
        async with _attempt(session) as executor:
            await hand_back(executor, granted.tasks)
        return Lease([], granted.visibility_timeout_s, granted.max_attempts)
    return granted


async def hand_back(session: Executor, tasks: Sequence[Leased]) -> None:
    """Return leases their client never received: available now, attempt not counted."""
    await _release(session, [task.lease_id for task in tasks], "undelivered")
    HANDED_BACK.inc(len(tasks))


async def _refused(session: Executor, lease_id: uuid.UUID, queue_scope: str | None) -> Exception:
    """Why a lease action matched no row: another queue's task for a queue-bound caller
    (``LeaseOutOfScope``), else ``LeaseConflict``. Only refusals pay this lookup."""
    if queue_scope is not None:
        rows = await execute(session, statements.LEASE_QUEUE, {"lease_id": lease_id})
        if rows and rows[0]["queue"] != queue_scope:
            return LeaseOutOfScope(queue_scope)
    return LeaseConflict(lease_id)


async def _lease_action(
    session: Executor,
    statement: Statement,
    lease_id: uuid.UUID,
    worker_id: str | None,
    queue_scope: str | None,
    **params: Any,
) -> LeaseOutcome:
    """Run a one-row lease statement; a refusal when no task holds this lease (in
    ``queue_scope``, when the caller is bound to a queue)."""
    rows = await execute(
        session,
        statement,
        {"lease_id": lease_id, "worker": worker_id, "queue_scope": queue_scope, **params},
    )
    if not rows:
        raise await _refused(session, lease_id, queue_scope)
    return record(LeaseOutcome, rows[0])


async def _on_leases(
    session: Executor,
    statement: Statement,
    lease_ids: Sequence[uuid.UUID],
    worker_id: str | None,
    queue_scope: str | None,
    **params: Any,
) -> list[Row]:
    """Run a lease statement over several leases at once (``:lease_ids`` as text)."""
    lease_texts = [str(lease_id) for lease_id in lease_ids]
    return await execute(
        session,
        statement,
        {"lease_ids": lease_texts, "worker": worker_id, "queue_scope": queue_scope, **params},
    )


async def heartbeat(
    session: Executor,
    lease_id: uuid.UUID,
    worker_id: str | None,
    timeout_grace_s: int,
    *,
    queue_scope: str | None = None,
) -> LeaseOutcome:
    """Extend the lease by the queue's visibility timeout (never past ``timeout_s``)."""
    return await _lease_action(
        session, statements.HEARTBEAT, lease_id, worker_id, queue_scope, grace=timeout_grace_s
    )


async def heartbeat_many(
    session: Executor,
    lease_ids: Sequence[uuid.UUID],
    worker_id: str | None,
    timeout_grace_s: int,
    *,
    queue_scope: str | None = None,
) -> dict[uuid.UUID, datetime]:
    """``heartbeat`` for every lease a worker holds, in one statement: the new expiry of
    each lease extended (the others are gone, or another worker's, and changed nothing)."""
    rows = await _on_leases(
        session, statements.HEARTBEAT_MANY, lease_ids, worker_id, queue_scope, grace=timeout_grace_s
    )
    return {row["lease_id"]: row["lease_expires_at"] for row in rows}


async def complete(
    session: Executor,
    lease_id: uuid.UUID,
    worker_id: str | None,
    result: Any,
    *,
    queue_scope: str | None = None,
) -> LeaseOutcome:
    done = await complete_many(session, [(lease_id, result)], worker_id, queue_scope=queue_scope)
    outcome = done.get(lease_id)
    if outcome is None:
        raise await _refused(session, lease_id, queue_scope)
    return outcome


async def complete_many(
    session: Executor,
    items: Sequence[tuple[uuid.UUID, Any]],
    worker_id: str | None,
    *,
    queue_scope: str | None = None,
) -> dict[uuid.UUID, Completed]:
    """Complete several leases in one statement; returns the ones that were valid (the
    others, and other queues' tasks when ``queue_scope`` is set, changed nothing).
    Lease ids must be distinct."""
    payload = [{"lease_id": str(lease_id), "result": result} for lease_id, result in items]
    rows = await execute(
        session,
        statements.COMPLETE,
        {
            "items": json_param(payload),
            "worker": worker_id,
            "shard": counter_shard(),
            "channel": QUEUE_CHANNEL,
            "queue_scope": queue_scope,
        },
    )
    return {done.lease: done for done in (record(Completed, row) for row in rows)}


async def fail(
    session: Executor,
    lease_id: uuid.UUID,
    worker_id: str | None,
    error: str,
    *,
    retryable: bool,
    queue_scope: str | None = None,
) -> LeaseOutcome:
    """A failed attempt: retry after a backoff, or ``dead`` past ``max_attempts``."""
    return await _lease_action(
        session,
        statements.FAIL,
        lease_id,
        worker_id,
        queue_scope,
        error=error[:4000],
        retryable=retryable,
        shard=counter_shard(),
        channel=QUEUE_CHANNEL,
    )


async def _release(
    session: Executor,
    lease_ids: Sequence[uuid.UUID],
    reason: str,
    *,
    worker_id: str | None = None,
    queue_scope: str | None = None,
) -> list[LeaseOutcome]:
    """Make these leases' tasks available now, the attempt not counted; ``worker_id`` and
    ``queue_scope`` restrict it to that worker's leases and that queue's tasks."""
    rows = await _on_leases(
        session,
        statements.RELEASE,
        lease_ids,
        worker_id,
        queue_scope,
        reason=reason,
        channel=QUEUE_CHANNEL,
    )
    return [record(LeaseOutcome, row) for row in rows]


async def release(
    session: Executor,
    lease_id: uuid.UUID,
    worker_id: str | None,
    *,
    queue_scope: str | None = None,
) -> LeaseOutcome:
    """Give a task back untouched (a draining worker): available now, attempt not counted."""
    released = await _release(
        session, [lease_id], "released", worker_id=worker_id, queue_scope=queue_scope
    )
    if not released:
        raise await _refused(session, lease_id, queue_scope)
    return released[0]
