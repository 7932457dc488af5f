"""Every statement of the queue engine, each named once.

Each hot path is one statement: a data-modifying CTE changes the task rows, writes their
outbox events, bumps the counters and sends the wake-up, returning exactly the fields of
a record from ``records``. Every part runs in the caller's transaction, so an event row
commits exactly when its change does. Fixed texts let psycopg prepare them once per
connection (``driver``).
"""

# Statements are assembled from module constants only (never input): S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

from task_service.models import DEDUPE_PREDICATE
from task_service.queue.counters import add_to_counter
from task_service.queue.driver import statement
from task_service.queue.outbox import FAILURE_EVENTS, write_events
from task_service.queue.records import (
    Leased,
    LeaseGate,
    LeaseOutcome,
    columns,
    queued_columns,
)
from task_service.queue.schemas import QueueConfig
from task_service.queue.sql import (
    CANCELLED,
    CLAIMABLE,
    CLEAR_LEASE,
    COMPLETED,
    DEAD,
    DIES,
    IN_PROGRESS,
    IN_QUEUE_SCOPE,
    JOB_COLUMNS,
    LEASE_MATCH,
    LEASES_MATCH,
    PENDING,
    RETRYING,
    SCHEDULED,
    UUID_V7,
    finish,
    moved,
    queue_lock,
    seconds,
    wake,
)

#: A job as the API shows it, from a row of the finished table (or a CTE of moved rows).
_TASK = queued_columns()
#: The same of a live job (no result, no completion time yet).
_LIVE_TASK = queued_columns(live=True)
_OUTCOME = columns(LeaseOutcome)
_OUTCOME_T = columns(LeaseOutcome, "t")
_REASON = "jsonb_build_object('reason', CAST(:reason AS text))"

#: The columns of an enqueue, each one array parameter of this type (``unnest``).
ENQUEUE_COLUMNS = (
    ("id", "uuid"),
    ("title", "text"),
    ("priority", "smallint"),
    ("payload", "jsonb"),
    ("max_attempts", "integer"),
    ("timeout_s", "integer"),
    ("dedupe_key", "text"),
    ("run_at", "timestamptz"),
    ("delay_s", "double precision"),
)
_UNNEST = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in ENQUEUE_COLUMNS)
_UNNESTED = ", ".join(name for name, _ in ENQUEUE_COLUMNS)


#: Enqueue the rows of one array per column (``unnest``: no JSON to build or parse per
#: row): create the queue if unconfigured, insert (a live task with the same dedupe_key
#: wins), write ``task.created`` events, and wake long-polls when the queue had nothing
#: available before. Returns each inserted task whole (what the enqueue route answers
#: with). Both inserts read ``gate`` first: the queue's lock, shared (``queue_lock``), so
#: a queue being deleted is deleted first and then created anew.
ENQUEUE = statement(
    "enqueue",
    f"""
    WITH gate AS (
        SELECT {queue_lock()}
    ), queue_row AS (
        INSERT INTO tasks.queues (name) SELECT :queue FROM gate ON CONFLICT DO NOTHING
    ), input AS (
        SELECT id, title, priority, payload, max_attempts, timeout_s, dedupe_key,
               greatest(now(), coalesce(run_at, now() + {seconds("delay_s")}, now()))
                   AS run_at,
               n
        FROM unnest({_UNNEST}) WITH ORDINALITY AS i({_UNNESTED}, n) CROSS JOIN gate
    ), src AS (
        INSERT INTO tasks.queue_jobs (id, title, status, priority, owner_id, queue, payload,
                                      max_attempts, run_at, timeout_s, dedupe_key,
                                      traceparent)
        SELECT id, title, CASE WHEN run_at > now() THEN {SCHEDULED} ELSE {PENDING} END,
               priority, CAST(:owner AS uuid), :queue, payload, max_attempts, run_at,
               timeout_s, dedupe_key, :traceparent
        FROM input ORDER BY n
        ON CONFLICT (queue, dedupe_key) WHERE {DEDUPE_PREDICATE} DO NOTHING
        RETURNING {_LIVE_TASK}, owner_id, traceparent
    ), events AS (
        {write_events("'task.created'", extra="jsonb_build_object('dedupe_key', dedupe_key)")}
    )
    SELECT {_TASK}, {wake(where=f"WHERE status = {PENDING}")} FROM src
    """,
)

#: Live tasks holding some dedupe keys (the winners of a deduplicated enqueue).
DEDUPE_HOLDERS = statement(
    "dedupe_holders",
    f"""
    SELECT {_LIVE_TASK} FROM tasks.queue_jobs
    WHERE queue = :queue AND dedupe_key = ANY(CAST(:keys AS text[]))
    """,
)


def _claim(gate: str) -> str:
    """The claim (one ``UPDATE``, ``FOR UPDATE SKIP LOCKED``, priority then age) and its
    ``task.updated`` events, as the CTEs ``cfg`` and ``claimed``; ``gate`` may veto it."""
    lease_length = seconds(
        "least(cfg.visibility_timeout_s, coalesce(t.timeout_s + :grace, cfg.visibility_timeout_s))"
    )
    return f"""
    WITH cfg AS (
        SELECT visibility_timeout_s, max_attempts AS queue_max_attempts, paused,
               (paused OR max_in_flight IS NOT NULL OR rate_limit_per_s IS NOT NULL) AS limited,
               EXISTS (SELECT FROM tasks.queue_jobs
                       WHERE status = {IN_PROGRESS} AND lease_expires_at < now()) AS expired
        FROM tasks.queues WHERE name = :queue
    ), claimed AS (
        UPDATE tasks.queue_jobs AS t SET
            status = {IN_PROGRESS}, attempts = t.attempts + 1, lease_id = {UUID_V7},
            leased_by = :worker, leased_at = now(), lease_expires_at = now() + {lease_length},
            updated_at = now(), version = t.version + 1
        FROM cfg
        WHERE t.id IN (
            SELECT id FROM tasks.queue_jobs
            WHERE queue = :queue AND {CLAIMABLE} AND run_at <= now() {gate}
            ORDER BY priority DESC, run_at, id
            LIMIT :limit
            FOR UPDATE SKIP LOCKED
        )
        RETURNING {columns(Leased, "t")}, t.owner_id, t.status
    ), events AS (
        {
        write_events(
            "'task.updated'",
            "claimed",
            extra="jsonb_build_object('worker_id', CAST(:worker AS text))",
        )
    }
    )
    """


#: The common lease: the claim only happens on an unpaused queue without limits (the
#: one-time filter keeps it from even locking rows otherwise), and every row also carries
#: the queue's ``LeaseGate`` (no row at all: unknown queue), so the lazy reclaim only
#: runs when a lease has expired.
LEASE = statement(
    "lease",
    _claim("AND NOT (SELECT limited FROM cfg)")
    + f"""
    SELECT {columns(LeaseGate, "cfg")}, {columns(Leased, "claimed")}
    FROM cfg LEFT JOIN claimed ON true
    """,
)
#: The claim alone, for a known number of tasks (a limited queue, or a top-up).
CLAIM = statement("claim", _claim("") + f"SELECT {columns(Leased)} FROM claimed")

#: A limited queue's row, locked so concurrent leasers see consistent limits.
LOCK_LIMITS = statement(
    "lock_limits",
    """
    SELECT paused, max_in_flight, rate_limit_per_s, rate_tokens, rate_refilled_at,
           now() AS now
    FROM tasks.queues WHERE name = :queue FOR UPDATE
    """,
)
#: What a rate-limited lease took from the bucket.
SPEND_TOKENS = statement(
    "spend_tokens",
    "UPDATE tasks.queues SET rate_tokens = :tokens, rate_refilled_at = :now WHERE name = :queue",
)


def _heartbeat(match: str) -> str:
    """Extend the leases ``match`` names by their queue's visibility timeout (never past
    the task's ``timeout_s`` plus ``:grace``)."""
    return f"""
    UPDATE tasks.queue_jobs AS t SET lease_expires_at = greatest(t.lease_expires_at, least(
        now() + {seconds("q.visibility_timeout_s")},
        coalesce(t.leased_at + {seconds("t.timeout_s + :grace")},
                 now() + {seconds("q.visibility_timeout_s")})
    ))
    FROM tasks.queues AS q
    WHERE q.name = t.queue AND {match}
    """


HEARTBEAT = statement("heartbeat", _heartbeat(LEASE_MATCH) + f"RETURNING {_OUTCOME_T}")
#: Every lease a worker holds at once; returns the ones extended.
HEARTBEAT_MANY = statement(
    "heartbeat_many", _heartbeat(LEASES_MATCH) + "RETURNING t.lease_id, t.lease_expires_at"
)

#: Complete every valid lease of a JSON array of ``{lease_id, result}``: the jobs move to
#: the finished table. Only a queue with ``max_in_flight`` has waiters a completion can
#: help (it frees a slot).
COMPLETE = statement(
    "complete",
    f"""
    WITH input AS (
        SELECT i.lease_id, nullif(i.result, 'null'::jsonb) AS result
        FROM jsonb_to_recordset(CAST(:items AS jsonb)) AS i(lease_id uuid, result jsonb)
    ), {
        finish(
            "src",
            "USING input",
            "t.lease_id = input.lease_id AND t.status = "
            + IN_PROGRESS
            + " AND t.lease_expires_at > now()"
            " AND (CAST(:worker AS text) IS NULL OR t.leased_by = CAST(:worker AS text))"
            f" AND {IN_QUEUE_SCOPE}",
            extra=", input.lease_id AS lease",
            status=COMPLETED,
            result="input.result",
            completed_at="now()",
            last_error="CAST(NULL AS text)",
        )
    }, events AS (
        {write_events("'task.completed'")}
    ), counted AS (
        {add_to_counter("completed_total")}
    )
    SELECT {_OUTCOME}, lease,
           {
        wake(
            where="WHERE queue IN (SELECT name FROM tasks.queues WHERE max_in_flight IS NOT NULL)",
            always=True,
        )
    }
    FROM src
    """,
)


def _failure(name: str, head: str, using: str, match: str, retry: str, run_at: str) -> str:
    """A failed attempt of each job ``match`` names (with ``using``, after the CTEs of
    ``head``): ``retry`` status at ``run_at`` in place, or moved to the finished table
    as ``dead`` when it was the last (``DIES``); as the CTE ``src`` of both, with their
    failure events and the counter. ``:error`` is the error kept."""
    return f"""
    WITH {head} retried AS (
        UPDATE tasks.queue_jobs AS t SET
            status = {retry}, run_at = {run_at}, last_error = :error, {CLEAR_LEASE}
        FROM {using}
        WHERE {match} AND NOT {DIES}
        RETURNING {_OUTCOME_T}, t.owner_id, t.traceparent, t.last_error
    ), {
        finish(
            name,
            f"USING {using}",
            f"{match} AND {DIES}",
            status=DEAD,
            last_error="CAST(:error AS text)",
        )
    }, src AS (
        SELECT * FROM retried
        UNION ALL SELECT {_OUTCOME}, owner_id, traceparent, last_error FROM {name}
    ), events AS (
        {FAILURE_EVENTS}
    ), counted AS (
        {add_to_counter("failed_total")}
    )
    """


#: A failed attempt: ``retrying`` after a backoff (exponential, full jitter:
#: uniform(0, min(cap, base * 2^(attempt-1)))), or ``dead`` past ``max_attempts`` (or
#: when not retryable); failure events, counter, wake-up.
FAIL = statement(
    "fail",
    _failure(
        "died",
        "",
        "tasks.queues AS q",
        f"q.name = t.queue AND {LEASE_MATCH}",
        RETRYING,
        "now() + "
        + seconds(
            "random() * least(q.backoff_max_s,"
            " q.backoff_base_s * power(2, greatest(t.attempts - 1, 0)))"
        ),
    )
    + f"SELECT {_OUTCOME}, {wake()} FROM src",
)

#: Give a task back untouched: available now, the attempt not counted.
RELEASE = statement(
    "release",
    f"""
    WITH src AS (
        UPDATE tasks.queue_jobs AS t SET
            status = {PENDING}, attempts = t.attempts - 1, run_at = now(), {CLEAR_LEASE}
        WHERE t.lease_id = ANY(CAST(:lease_ids AS uuid[])) AND t.status = {IN_PROGRESS}
          AND t.lease_expires_at > now()
          AND (CAST(:worker AS text) IS NULL OR t.leased_by = CAST(:worker AS text))
          AND {IN_QUEUE_SCOPE}
        RETURNING {_OUTCOME_T}, t.owner_id, t.traceparent
    ), events AS (
        {write_events("'task.updated'", extra=_REASON)}
    )
    SELECT {_OUTCOME}, {wake()} FROM src
    """,
)

#: The queue of the task holding a lease: tells a queue-bound token's refused lease
#: action (another queue's task) from a stale lease, on the refusal path only.
LEASE_QUEUE = statement(
    "lease_queue", "SELECT queue FROM tasks.queue_jobs WHERE lease_id = CAST(:lease_id AS uuid)"
)

#: Take back up to ``:limit`` tasks whose lease expired (of ``:queue``, or of every
#: queue when it is NULL): available again, or ``dead`` when the expired attempt was the
#: last. Clearing ``lease_id`` is what makes a late answer from the old attempt a 409.
RESCUE = statement(
    "rescue",
    _failure(
        "buried",
        f"""expired AS (
            SELECT id FROM tasks.queue_jobs
            WHERE status = {IN_PROGRESS} AND lease_expires_at < now()
              AND (CAST(:queue AS text) IS NULL OR queue = CAST(:queue AS text))
            ORDER BY lease_expires_at
            LIMIT :limit
            FOR UPDATE SKIP LOCKED
        ),""",
        "expired",
        "t.id = expired.id",
        PENDING,
        "now()",
    )
    + f"SELECT count(*) AS rescued, {wake()} FROM src",
)

#: Take ``:queue``'s lock exclusively (``queue_lock``): its deletion waits for the
#: enqueues and dead-letter retries in flight, and keeps new ones out until it commits.
LOCK_QUEUE_JOBS = statement(
    "lock_queue_jobs", f"SELECT true AS locked FROM (SELECT {queue_lock(exclusive=True)}) AS l"
)

IN_FLIGHT = statement(
    "in_flight",
    "SELECT count(*) AS in_flight FROM tasks.queue_jobs"
    f" WHERE queue = :queue AND status = {IN_PROGRESS}",
)


#: Who sees a queue job: ``:see_all``, or its owner ``:user`` (jobs have no assignee).
_VISIBLE = "(CAST(:see_all AS boolean) OR owner_id = CAST(:user AS uuid))"
#: Cancel one live job the caller can see: moved to the finished table, with its
#: ``task.cancelled`` event.
CANCEL = statement(
    "cancel",
    f"""
    WITH {finish("src", "", f"t.id = :task_id AND {_VISIBLE}", status=CANCELLED)}, events AS (
        {write_events("'task.cancelled'")}
    )
    SELECT {_TASK} FROM src
    """,
)

#: A deleted queue's live jobs go, each with a ``task.cancelled`` event (reason ``queue
#: deleted``); returns how many. A lease held on one is gone with it (a late answer is a
#: 409).
DELETE_QUEUE_LIVE = statement(
    "delete_queue_live",
    f"""
    WITH src AS (
        DELETE FROM tasks.queue_jobs AS t WHERE t.queue = :queue
        RETURNING t.id, t.queue, t.owner_id, {CANCELLED} AS status, t.attempts, t.traceparent
    ), events AS (
        {write_events("'task.cancelled'", extra="jsonb_build_object('reason', 'queue deleted')")}
    )
    SELECT count(*) AS deleted FROM src
    """,
)
#: A deleted queue's finished jobs go, like retention's, without an event each; returns
#: how many. Run after ``DELETE_QUEUE_LIVE``, in a statement of its own: a job that
#: finished while that one ran is in this one's snapshot.
DELETE_QUEUE_FINISHED = statement(
    "delete_queue_finished",
    """
    WITH gone AS (
        DELETE FROM tasks.queue_jobs_finished WHERE queue = :queue RETURNING 1
    )
    SELECT count(*) AS deleted FROM gone
    """,
)
#: The status of a job the caller can see, wherever it is (why a cancel changed nothing),
#: or of a plain task it can see (``queued`` false).
VISIBLE_STATUS = statement(
    "visible_status",
    f"SELECT status, true AS queued FROM tasks.queue_tasks WHERE id = :task_id AND {_VISIBLE}"
    # A plain task the caller can see is no queue job: a 409, not the 404 of no task.
    " UNION ALL SELECT status, false FROM tasks.tasks WHERE id = :task_id"
    " AND (CAST(:see_all AS boolean) OR owner_id = CAST(:user AS uuid)"
    " OR assignee_id = CAST(:user AS uuid))",
)

#: Dead jobs, newest first, after the keyset cursor ``(:after_at, :after_id)`` if any. A
#: finished job is never updated, so its ``updated_at`` (the cursor's column) is its
#: ``finished_at`` (the index's).
LIST_DEAD = statement(
    "list_dead",
    f"""
    SELECT {_TASK} FROM tasks.queue_jobs_finished
    WHERE queue = :queue AND status = {DEAD}
      AND (CAST(:after_at AS timestamptz) IS NULL
           OR (finished_at, id) < (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid)))
    ORDER BY finished_at DESC, id DESC
    LIMIT :limit
    """,
)

#: A dead job moves back to the live table with a fresh set of attempts, available now
#: (a live job holding its dedupe key makes this a unique violation), under its queue's
#: lock (shared, ``queue_lock``): a queue being deleted takes the job with it first.
RETRY_DEAD = statement(
    "retry_dead",
    f"""
    WITH gate AS (
        SELECT {queue_lock()}
    ), gone AS (
        DELETE FROM tasks.queue_jobs_finished AS t
        WHERE t.id = :task_id AND t.queue = :queue AND t.status = {DEAD}
          AND EXISTS (SELECT FROM gate)
        RETURNING t.*
    ), src AS (
        INSERT INTO tasks.queue_jobs ({", ".join(JOB_COLUMNS)})
        SELECT {moved("gone", JOB_COLUMNS, status=PENDING, attempts="0", run_at="now()")}
        FROM gone
        RETURNING {_LIVE_TASK}, owner_id, traceparent
    ), events AS (
        {write_events("'task.updated'", extra="jsonb_build_object('reason', 'dead_retry')")}
    )
    SELECT {_TASK}, {wake()} FROM src
    """,
)

#: Delete finished jobs (``:task_ids``; of ``:queue`` and ``dead`` when ``:dead_of`` is
#: given) with their ``task.deleted`` events; returns the ids deleted.
DELETE_FINISHED = statement(
    "delete_finished",
    f"""
    WITH src AS (
        DELETE FROM tasks.queue_jobs_finished AS t
        WHERE t.id = ANY(CAST(:task_ids AS uuid[]))
          AND (CAST(:dead_of AS text) IS NULL
               OR (t.queue = CAST(:dead_of AS text) AND t.status = {DEAD}))
        RETURNING t.id, t.queue, t.owner_id, t.status, t.attempts, t.traceparent
    ), events AS (
        {write_events("'task.deleted'")}
    )
    SELECT id FROM src
    """,
)


def _retention(column: str) -> str:
    """A finished task's retention: its queue's ``column``, or the default when the
    queue is gone (NULL when the queue keeps them forever)."""
    default = QueueConfig.model_fields[column].default
    return f"CASE WHEN q.name IS NULL THEN {default} ELSE q.{column} END"


_RETENTIONS = ("completed_retention_s", "cancelled_retention_s", "dead_retention_s")
_SHORTEST_RETENTION = (
    "least("
    + ", ".join(
        [f"(SELECT min({column}) FROM tasks.queues)" for column in _RETENTIONS]
        + [str(QueueConfig.model_fields[column].default) for column in _RETENTIONS]
    )
    + ")"
)

#: Delete up to ``:batch`` finished jobs older than their queue keeps them, oldest
#: first (``finished_at``: when they left the live table). The bound on the shortest
#: retention lets the scan walk ``ix_queue_jobs_finished_at`` from its old end, and rows
#: someone holds are skipped, never waited for.
_TASK_RETENTION = f"""CASE t.status
    WHEN {COMPLETED} THEN {_retention("completed_retention_s")}
    WHEN {CANCELLED} THEN {_retention("cancelled_retention_s")}
    ELSE {_retention("dead_retention_s")} END"""
CLEAN_TASKS = statement(
    "clean_tasks",
    f"""
    WITH doomed AS (
        SELECT t.id FROM tasks.queue_jobs_finished AS t
        LEFT JOIN tasks.queues AS q ON q.name = t.queue
        WHERE t.finished_at < now() - {seconds(_SHORTEST_RETENTION)}
          AND t.finished_at < now() - {seconds(_TASK_RETENTION)}
        ORDER BY t.finished_at
        LIMIT :batch
        FOR UPDATE OF t SKIP LOCKED
    ), gone AS (
        DELETE FROM tasks.queue_jobs_finished WHERE id IN (SELECT id FROM doomed) RETURNING 1
    )
    SELECT count(*) AS deleted FROM gone
    """,
)

#: Delete up to ``:batch`` events older than ``:retention_s`` from the start of the feed
#: (in feed order, stopping at the first younger one, so what is gone is always a
#: prefix), and move the horizon to the last one deleted.
CLEAN_EVENTS = statement(
    "clean_events",
    f"""
    WITH head AS (
        SELECT id, tx_id, occurred_at FROM tasks.events
        ORDER BY tx_id, id
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ), prefix AS (
        SELECT id, tx_id,
               bool_and(occurred_at < now() - {seconds(":retention_s")})
                   OVER (ORDER BY tx_id, id) AS expired
        FROM head
    ), gone AS (
        DELETE FROM tasks.events AS e USING prefix
        WHERE e.id = prefix.id AND prefix.expired
        RETURNING e.tx_id, e.id
    ), horizon AS (
        INSERT INTO tasks.feed_horizon AS h (tx_id, id)
        SELECT tx_id, id FROM gone ORDER BY tx_id DESC, id DESC LIMIT 1
        ON CONFLICT (singleton) DO UPDATE SET tx_id = excluded.tx_id, id = excluded.id
        WHERE (excluded.tx_id, excluded.id) > (h.tx_id, h.id)
    )
    SELECT count(*) AS deleted FROM gone
    """,
)

#: Delete up to ``:batch`` idempotency keys that expired more than an hour ago (a
#: client reusing one right at expiry reclaims it; the hour keeps the two apart).
CLEAN_IDEMPOTENCY_KEYS = statement(
    "clean_idempotency_keys",
    """
    WITH doomed AS (
        SELECT scope, key FROM tasks.idempotency_keys
        WHERE expires_at < now() - interval '1 hour'
        ORDER BY expires_at
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM tasks.idempotency_keys AS k USING doomed
        WHERE k.scope = doomed.scope AND k.key = doomed.key
        RETURNING 1
    )
    SELECT count(*) AS deleted FROM gone
    """,
)

#: Whether retention deleted events after the cursor ``(:tx, :id)``, and the horizon
#: (the cursor to resume from, accepting the gap); no row: nothing was deleted yet.
FEED_HORIZON = statement(
    "feed_horizon",
    """
    SELECT (CAST(:tx AS text)::xid8, CAST(:id AS bigint)) < (tx_id, id) AS expired,
           tx_id::text || '-' || id AS horizon
    FROM tasks.feed_horizon
    """,
)
