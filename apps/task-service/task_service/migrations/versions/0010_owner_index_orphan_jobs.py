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
same name. The upgrade deletes those too, as the deletion does now: every job whose
queue row is gone, a live one with a ``task.cancelled`` event (reason ``queue
deleted``), a finished one without an event (like retention). The downgrade drops the
indexes; it cannot bring deleted jobs back.

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
#: Jobs whose queue row is gone.
_ORPHAN = "NOT EXISTS (SELECT FROM tasks.queues AS q WHERE q.name = t.queue)"
_DELETE_ORPHANS = (
    f"DELETE FROM tasks.queue_jobs_finished AS t WHERE {_ORPHAN}",
    f"""
    WITH live AS (
        DELETE FROM tasks.queue_jobs AS t WHERE {_ORPHAN}
        RETURNING t.id, t.queue, t.owner_id, t.attempts, t.traceparent
    )
    INSERT INTO tasks.events (type, task_id, queue, owner_id, data, traceparent)
    SELECT 'task.cancelled', id, queue, owner_id,
           jsonb_build_object('status', 'cancelled', 'attempt', attempts,
                              'reason', 'queue deleted'),
           traceparent
    FROM live ORDER BY id
    """,
)


def upgrade() -> None:
    create_indexes("tasks", *_OWNER_INDEXES)
    for statement in _DELETE_ORPHANS:
        op.execute(statement)


def downgrade() -> None:
    drop_indexes("tasks", *_OWNER_INDEXES)
