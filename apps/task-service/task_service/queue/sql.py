"""Fragments the engine's statements are built from, each written once: status
literals, intervals, the lease match and the wake-up.

Everything here is a module constant (never input); values travel as bound parameters.
Statuses are literals, not parameters, because a prepared statement's generic plan can
only use the partial indexes when it sees their exact predicate.
"""

# Statements are assembled from module constants only (never input): S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable

from task_service.models import CLAIMABLE_STATUSES, FINISHED_STATUSES, LIVE_STATUSES, TaskStatus


def status(value: TaskStatus) -> str:
    return f"'{value.value}'"


def status_in(statuses: Iterable[TaskStatus]) -> str:
    return "status IN (" + ", ".join(status(value) for value in statuses) + ")"


PENDING = status(TaskStatus.PENDING)
SCHEDULED = status(TaskStatus.SCHEDULED)
IN_PROGRESS = status(TaskStatus.IN_PROGRESS)
RETRYING = status(TaskStatus.RETRYING)
COMPLETED = status(TaskStatus.COMPLETED)
DEAD = status(TaskStatus.DEAD)
CANCELLED = status(TaskStatus.CANCELLED)
CLAIMABLE = status_in(CLAIMABLE_STATUSES)
LIVE = status_in(LIVE_STATUSES)
FINISHED = status_in(FINISHED_STATUSES)
#: The default of ``QueueConfig.max_attempts``, for a task whose queue row is gone.
DEFAULT_MAX_ATTEMPTS = 5


def seconds(value: str) -> str:
    """An interval of ``value`` seconds (an SQL expression)."""
    return f"make_interval(0, 0, 0, 0, 0, 0, CAST({value} AS double precision))"


#: A lease names one row: this attempt's lease id, still in progress, unexpired, and
#: (when a worker id is given) held by that worker.
#: A lease action of a queue-bound token (``:queue_scope``) only matches that queue's tasks.
IN_QUEUE_SCOPE = "(CAST(:queue_scope AS text) IS NULL OR t.queue = CAST(:queue_scope AS text))"
_HELD = (
    f"t.status = {IN_PROGRESS} AND t.lease_expires_at > now()"
    " AND (CAST(:worker AS text) IS NULL OR t.leased_by = CAST(:worker AS text))"
    f" AND {IN_QUEUE_SCOPE}"
)
LEASE_MATCH = f"t.lease_id = :lease_id AND {_HELD}"
#: ``LEASE_MATCH`` for any of a uuid array ``:lease_ids`` (a worker's batch heartbeat).
LEASES_MATCH = f"t.lease_id = ANY(CAST(:lease_ids AS uuid[])) AND {_HELD}"
#: ``SET`` items of a task leaving its lease: no lease, a new version.
CLEAR_LEASE = (
    "lease_id = NULL, leased_by = NULL, lease_expires_at = NULL,"
    " updated_at = now(), version = t.version + 1"
)
#: Whether a failed attempt of ``t`` is its last (or must not be retried).
DIES = (
    "(NOT CAST(:retryable AS boolean) OR t.attempts >= coalesce(t.max_attempts,"
    " (SELECT q.max_attempts FROM tasks.queues AS q WHERE q.name = t.queue),"
    f" {DEFAULT_MAX_ATTEMPTS}))"
)


#: A UUIDv7 made by PostgreSQL 15 (which has no ``uuidv7()``): a random UUID whose first
#: 48 bits become the Unix time in milliseconds and whose version nibble becomes 7
#: (bits 52 and 53 turn v4's ``0100`` into ``0111``). Keys made close in time sit close
#: in a B-tree, so their index entries land on a few hot pages, not on random ones.
UUID_V7 = (
    "CAST(encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING"
    " substring(int8send(CAST(floor(extract(epoch FROM clock_timestamp()) * 1000) AS bigint))"
    " FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex') AS uuid)"
)

#: Whether a queue ``woken.queue`` had nothing available to claim before this statement
#: (its snapshot does not see the statement's own changes).
_WAS_EMPTY = (
    "NOT EXISTS (SELECT FROM tasks.tasks AS w WHERE w.queue = woken.queue"
    f" AND w.{CLAIMABLE} AND w.run_at <= now())"
)


def wake(source: str = "src", where: str = "", *, always: bool = False) -> str:
    """A select item that NOTIFYs (at commit) each queue of ``source`` once, and only
    when the queue goes from empty to non-empty (``always``: every queue of ``source``).

    A waiting leaser found the queue empty, so a queue that already had work has no
    waiter this task could help, and under a backlog no enqueue sends a NOTIFY (which
    takes a cluster-wide lock at commit). Waiters still re-poll, so a wake-up lost to a
    race costs latency, never a task.
    """
    condition = "" if always else f"WHERE {_WAS_EMPTY}"
    return (
        "(SELECT count(pg_notify(:channel, queue))"
        f" FROM (SELECT DISTINCT queue FROM {source} {where}) AS woken {condition}) AS woke"
    )
