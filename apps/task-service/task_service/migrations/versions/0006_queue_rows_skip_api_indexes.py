"""queued tasks skip the task API's indexes: partial on ``queue IS NULL``

Every queue transition (enqueue, lease, complete) is a non-HOT update of its row, and a
non-HOT update writes an entry into every index whose predicate the new row matches. The
task API's indexes (all but the default listing's ``ix_tasks_created``) become partial
on plain tasks, so a queued task writes none of them; retention walks the finished
queued tasks through an index of their own (``ix_tasks_queue_finished``), one entry per
task. Rebuilt on a populated table (plain ``CREATE INDEX``: it blocks writes to
``tasks.tasks`` while it builds).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 08:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The task API's indexes that become partial: name, columns, access method.
_API_INDEXES: tuple[tuple[str, list[str], str], ...] = (
    ("ix_tasks_updated", ["updated_at", "id"], "btree"),
    ("ix_tasks_due", ["due_at", "id"], "btree"),
    ("ix_tasks_priority", ["priority", "id"], "btree"),
    ("ix_tasks_owner_created", ["owner_id", "created_at", "id"], "btree"),
    ("ix_tasks_assignee_created", ["assignee_id", "created_at", "id"], "btree"),
    ("ix_tasks_status_created", ["status", "created_at", "id"], "btree"),
    ("ix_tasks_tags", ["tags_normalized"], "gin"),
)
_API_ONLY = "queue IS NULL"
_QUEUE_FINISHED = "queue IS NOT NULL AND status IN ('completed', 'cancelled', 'dead')"


def _rebuild(where: str | None) -> None:
    for name, columns, using in _API_INDEXES:
        op.drop_index(name, table_name="tasks", schema="tasks")
        op.create_index(
            name,
            "tasks",
            columns,
            schema="tasks",
            postgresql_using=using,
            postgresql_where=sa.text(where) if where else None,
        )


def upgrade() -> None:
    _rebuild(_API_ONLY)
    op.create_index(
        "ix_tasks_queue_finished",
        "tasks",
        ["updated_at"],
        schema="tasks",
        postgresql_where=sa.text(_QUEUE_FINISHED),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_queue_finished", table_name="tasks", schema="tasks")
    _rebuild(None)
