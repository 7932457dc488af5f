"""a member's job list has an index: ``(queue, owner_id, id)`` on both job tables

``GET /api/v1/queues/{queue}/tasks`` shows a member only the jobs they enqueued, newest
first: ``queue = $1 AND owner_id = $2 ORDER BY id DESC`` over the view
``tasks.queue_tasks``. Without an index on the owner each page read both job tables in
full (sequential scans, then a sort); with one per table the page is a backward walk of
each index, merged, that stops after the page. Partial on ``owner_id IS NOT NULL``: jobs
enqueued by a service token without a user (most machine traffic) have no owner, no
member lists them, and they write no entry here. Built with a plain ``CREATE INDEX``
like the other index migrations (it blocks writes to each job table while it builds).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 12:10:00.000000
"""

from collections.abc import Sequence

from taskplane_common.migration_ops import Index, create_indexes, drop_indexes

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OWNER_INDEXES = tuple(
    Index(f"ix_{table}_owner", table, ["queue", "owner_id", "id"], where="owner_id IS NOT NULL")
    for table in ("queue_jobs", "queue_jobs_finished")
)


def upgrade() -> None:
    create_indexes("tasks", *_OWNER_INDEXES)


def downgrade() -> None:
    drop_indexes("tasks", *_OWNER_INDEXES)
