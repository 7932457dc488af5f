"""The one event writer of the queue engine: every statement that changes tasks writes
its outbox rows with this insert, in the same statement (so in the same transaction)."""

# Statements are assembled from module constants only (never input): S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

from task_service.queue.sql import DEAD


def write_events(
    type_: str,
    source: str = "src",
    *,
    extra: str | None = None,
    where: str = "",
    order: str = "id",
) -> str:
    """The outbox insert: one event per row of ``source`` (columns ``id, queue, owner_id,
    status, attempts, traceparent``), data ``{status, attempt}`` merged with the jsonb
    ``extra``. The task's own (enqueue) trace context goes with every event of the task,
    so a consumer continues the trace the task started in."""
    data = "jsonb_build_object('status', status, 'attempt', attempts)"
    if extra:
        data = f"{data} || {extra}"
    return (
        "INSERT INTO tasks.events (type, task_id, queue, owner_id, data, traceparent)"
        f" SELECT {type_}, id, queue, owner_id, {data}, traceparent"
        f" FROM {source} {where} ORDER BY {order}"
    )


#: ``task.failed`` for each failed attempt in ``src`` (with ``retry_at`` when it will be
#: retried), followed by ``task.dead`` when it was the last.
FAILURE_EVENTS = write_events(
    "kind",
    "src CROSS JOIN LATERAL (VALUES"
    " (1, 'task.failed', jsonb_build_object('error', last_error,"
    " 'retryable', CAST(:retryable AS boolean))"
    f" || CASE WHEN status <> {DEAD} AND run_at IS NOT NULL"
    " THEN jsonb_build_object('retry_at', run_at) ELSE '{}' END),"
    " (2, 'task.dead', jsonb_build_object('error', last_error))) AS e(n, kind, detail)",
    extra="detail",
    where=f"WHERE n = 1 OR status = {DEAD}",
    order="id, n",
)
