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

from taskplane_common.migration_ops import Index, create_indexes, drop_indexes

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
_QUEUE_FINISHED_INDEX = Index(
    "ix_tasks_queue_finished", "tasks", ["updated_at"], where=_QUEUE_FINISHED
)


def _rebuild(where: str | None) -> None:
    """Drop the task API's indexes and build them again, partial on ``where`` when set."""
    indexes = [
        Index(name, "tasks", columns, where=where, using=using)
        for name, columns, using in _API_INDEXES
    ]
    drop_indexes("tasks", *indexes)
    create_indexes("tasks", *indexes)


def upgrade() -> None:
    _rebuild(_API_ONLY)
    create_indexes("tasks", _QUEUE_FINISHED_INDEX)


def downgrade() -> None:
    drop_indexes("tasks", _QUEUE_FINISHED_INDEX)
    _rebuild(None)
