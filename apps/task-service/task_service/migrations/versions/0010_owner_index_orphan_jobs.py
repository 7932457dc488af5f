"""a member's job list has an index; jobs of queues deleted earlier are deleted

``GET /api/v1/queues/{queue}/tasks`` shows a member only the jobs they enqueued, newest
first: ``queue = $1 AND owner_id = $2 ORDER BY id DESC`` over the view
``tasks.queue_tasks``. Without an index on the owner each page read both job tables in
full (sequential scans, then a sort); with ``(queue, owner_id, id)`` on each table the
page is a backward walk of each index, merged, that stops after the page. Partial on
``owner_id IS NOT NULL``: jobs enqueued by a service token without a user (most machine
traffic) have no owner, no member lists them, and they write no entry here. Built with a
plain ``CREATE INDEX`` like the other index migrations (it blocks writes to each job
table while it builds).

Deleting a queue now deletes its jobs; before, its finished jobs (and a job enqueued
while it was deleted) stayed, readable by id and seen again by a queue created under the
same name. The upgrade deletes those too, as the deletion does now: each job whose queue
row is gone, with ``task.cancelled`` (a live one) and ``task.deleted`` events, reason
``queue deleted``. The downgrade drops the indexes; it cannot bring deleted jobs back.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 12:10:00.000000
"""

# Statements are assembled from module constants only (never input): S608 does not apply.
# ruff: noqa: S608

from collections.abc import Sequence

from alembic import op

from taskplane_common.migration_ops import Index, create_indexes, drop_indexes

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OWNER_INDEXES = tuple(
    Index(f"ix_{table}_owner", table, ["queue", "owner_id", "id"], where="owner_id IS NOT NULL")
    for table in ("queue_jobs", "queue_jobs_finished")
)
#: The jobs of queues that no longer exist, from ``table``; ``first`` is the first event
#: each gets (1: cancelled, then deleted; 2: deleted only).
_ORPHANS = """
    DELETE FROM tasks.{table} AS t
    WHERE NOT EXISTS (SELECT FROM tasks.queues AS q WHERE q.name = t.queue)
    RETURNING t.id, t.queue, t.owner_id, {status} AS status, t.attempts, t.traceparent,
              {first} AS first
"""
_DELETE_ORPHANS = f"""
WITH live AS ({_ORPHANS.format(table="queue_jobs", status="'cancelled'", first=1)}
), finished AS ({_ORPHANS.format(table="queue_jobs_finished", status="t.status", first=2)}
), gone AS (
    SELECT * FROM live UNION ALL SELECT * FROM finished
)
INSERT INTO tasks.events (type, task_id, queue, owner_id, data, traceparent)
SELECT e.kind, gone.id, gone.queue, gone.owner_id,
       jsonb_build_object('status', gone.status, 'attempt', gone.attempts,
                          'reason', 'queue deleted'),
       gone.traceparent
FROM gone JOIN (VALUES (1, 'task.cancelled'), (2, 'task.deleted')) AS e(n, kind)
     ON e.n >= gone.first
ORDER BY gone.id, e.n
"""


def upgrade() -> None:
    create_indexes("tasks", *_OWNER_INDEXES)
    op.execute(_DELETE_ORPHANS)


def downgrade() -> None:
    drop_indexes("tasks", *_OWNER_INDEXES)
