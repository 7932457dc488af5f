"""an admin's job list has an index on the finished jobs: ``(queue, id)``

``GET /api/v1/queues/{queue}/tasks`` shows an admin every job of the queue, newest
first: ``queue = $1 ORDER BY id DESC`` over the view ``tasks.queue_tasks``. Without an
index on the queue, each page walked each table's primary key backwards and skipped
the other queues' jobs: cheap for a queue with recent jobs, a walk of the whole table
for a queue with few or none (on a million finished jobs, 65-80 ms per page, hot,
against 0.3-0.8 ms with this index). The finished table is the one retention lets grow
(days of jobs); it gets the index, one entry per job at completion (+84 bytes of WAL
per job, 3 %). The live table does not: every enqueue and every lease would pay an
entry there (+252 bytes per job in all, 9 %), for a walk as long as the live backlog.
Built with a plain ``CREATE INDEX`` like the other index migrations (it blocks writes
to the table while it builds).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 18:00:00.000000
"""

from collections.abc import Sequence

from taskplane_common.migration_ops import Index, create_indexes, drop_indexes

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_QUEUE_INDEX = Index("ix_queue_jobs_finished_queue", "queue_jobs_finished", ["queue", "id"])


def upgrade() -> None:
    create_indexes("tasks", _QUEUE_INDEX)


def downgrade() -> None:
    drop_indexes("tasks", _QUEUE_INDEX)
