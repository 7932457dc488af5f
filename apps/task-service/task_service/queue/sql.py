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
    "NOT EXISTS (SELECT FROM tasks.queue_jobs AS w WHERE w.queue = woken.queue"
    f" AND w.{CLAIMABLE} AND w.run_at <= now())"
)


#: The advisory lock class of a queue's jobs (the second key is the name's hash).
_QUEUE_LOCK_CLASS = 7451


def queue_lock(*, exclusive: bool = False) -> str:
    """An SQL call taking the advisory lock of ``:queue``'s jobs until the transaction
    ends. What adds jobs to a queue (an enqueue, a dead-letter retry) takes it shared,
    so those never wait for each other; a queue's deletion takes it exclusively, so it
    waits for those in flight to commit (and then deletes their jobs too) and none adds
    to the queue until the deletion has committed (an enqueue then creates the queue
    anew). A hash collision only makes a deletion wait for another queue's writers."""
    mode = "" if exclusive else "_shared"
    return f"pg_advisory_xact_lock{mode}({_QUEUE_LOCK_CLASS}, hashtext(CAST(:queue AS text)))"


#: Every queue job's columns, live (``tasks.queue_jobs``) or finished.
JOB_COLUMNS = (
    "id",
    "queue",
    "status",
    "priority",
    "title",
    "payload",
    "owner_id",
    "traceparent",
    "max_attempts",
    "attempts",
    "run_at",
    "timeout_s",
    "dedupe_key",
    "lease_id",
    "leased_by",
    "leased_at",
    "lease_expires_at",
    "last_error",
    "version",
    "created_at",
    "updated_at",
)
#: The columns of ``tasks.queue_jobs_finished``.
FINISHED_COLUMNS = (*JOB_COLUMNS, "result", "completed_at", "finished_at")

#: What a job moving between the two tables gets unless told otherwise: no lease, a new
#: version, changed now; a finished one has no result yet and finished now.
_MOVED = {
    "lease_id": "CAST(NULL AS uuid)",
    "leased_by": "CAST(NULL AS text)",
    "lease_expires_at": "CAST(NULL AS timestamptz)",
    "version": "{t}.version + 1",
    "updated_at": "now()",
    "result": "CAST(NULL AS jsonb)",
    "completed_at": "CAST(NULL AS timestamptz)",
    "finished_at": "now()",
}


def moved(table: str, target: tuple[str, ...], **changes: str) -> str:
    """The select list of ``target``'s columns for a row ``table`` of the other job
    table: ``changes`` first, then ``_MOVED``, else the column as it is."""
    items = []
    for column in target:
        if column in changes:
            value = changes[column]
        else:
            value = _MOVED.get(column, "{t}." + column).format(t=table)
        items.append(f"{value} AS {column}")
    return ", ".join(items)


def finish(name: str, using: str, where: str, *, extra: str = "", **changes: str) -> str:
    """Two CTEs moving the live jobs ``where`` matches to ``tasks.queue_jobs_finished``
    in one go: ``name`` (the DELETE, returning each job as finished, with ``changes``
    and the ``extra`` select items) and ``{name}_kept`` (the INSERT)."""
    columns = ", ".join(FINISHED_COLUMNS)
    return f"""{name} AS (
        DELETE FROM tasks.queue_jobs AS t {using} WHERE {where}
        RETURNING {moved("t", FINISHED_COLUMNS, **changes)}{extra}
    ), {name}_kept AS (
        INSERT INTO tasks.queue_jobs_finished ({columns}) SELECT {columns} FROM {name}
    )"""


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
