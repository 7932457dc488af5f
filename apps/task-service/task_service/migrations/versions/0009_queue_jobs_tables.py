"""queue jobs in tables of their own: live ``queue_jobs``, ``queue_jobs_finished``

Queue jobs shared ``tasks.tasks`` with the task API's plain tasks: wide rows, every
transition a new version of a row with the API's columns, and finished jobs in the same
heap as the live backlog. Live jobs (pending, scheduled, retrying, in_progress) move to
the narrow ``tasks.queue_jobs`` with only the indexes the claim, the rescuer, the lease
actions and the dedupe need; finished jobs (completed, cancelled, dead) move to
``tasks.queue_jobs_finished`` (``finished_at`` = their last ``updated_at``), which
retention trims. Lease columns move as they are, so a lease held during the upgrade
still completes. The view ``tasks.queue_tasks`` shows every job once, wherever it is.
``tasks.tasks`` keeps plain tasks only: its queue columns and indexes go, and the task
API's indexes lose their ``queue IS NULL`` predicate. Events are untouched.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 04:10:00.000000
"""

# Statements are assembled from module constants only (never input): S608 does not apply.
# ruff: noqa: S608

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from task_service.migrations.queue_ops import FINISHED, LIVE, claim_index
from taskplane_common.migration_ops import Index, create_indexes, drop_indexes

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAYLOAD_OBJECT = "payload IS NULL OR jsonb_typeof(payload) = 'object'"

_TIME = "timestamptz"
#: Every queue job column's type, live or finished, in the view's order.
_TYPES: dict[str, str] = {
    "id": "uuid",
    "queue": "text",
    "status": "text",
    "priority": "smallint",
    "title": "text",
    "payload": "jsonb",
    "owner_id": "uuid",
    "traceparent": "text",
    "max_attempts": "integer",
    "attempts": "integer",
    "run_at": _TIME,
    "timeout_s": "integer",
    "dedupe_key": "text",
    "lease_id": "uuid",
    "leased_by": "text",
    "leased_at": _TIME,
    "lease_expires_at": _TIME,
    "last_error": "text",
    "version": "integer",
    "created_at": _TIME,
    "updated_at": _TIME,
    "result": "jsonb",
    "completed_at": _TIME,
    "finished_at": _TIME,
}
_SA_TYPES: dict[str, Callable[[], sa.types.TypeEngine[Any]]] = {
    "uuid": sa.UUID,
    "text": sa.Text,
    "smallint": sa.SmallInteger,
    "integer": sa.Integer,
    "jsonb": postgresql.JSONB,
}
_DEFAULTS = {"attempts": "0", "version": "1", "created_at": "now()", "updated_at": "now()"}
_JOB = list(_TYPES)[: list(_TYPES).index("updated_at") + 1]
_JOB_COLUMNS = ", ".join(_JOB)
_FINISHED_COLUMNS = ", ".join(_TYPES)
#: The job columns that 0002 added to ``tasks.tasks`` for queued tasks (the others plain
#: tasks have too; none of these is read for a plain task: the task API built a task's
#: ``queue`` details from them only when ``queue`` was set), in the order 0002 added
#: them: the downgrade appends them again in this order, so the table's column order
#: comes back exactly (``pg_dump --schema-only`` equal to a fresh 0008).
# fmt: off
_QUEUE_ONLY = [
    "queue", "payload", "attempts", "max_attempts", "run_at", "timeout_s", "dedupe_key",
    "lease_id", "leased_by", "leased_at", "lease_expires_at", "last_error", "result",
    "traceparent",
]
# fmt: on
#: The job columns that may be NULL; the rest are NOT NULL.
_OPTIONAL = set(_QUEUE_ONLY) - {"queue", "attempts", "run_at"} | {"owner_id", "completed_at"}

#: The indexes of the job tables: the claim, the rescuer, the lease actions, the dedupe
#: and retention.
_JOB_INDEXES = (
    claim_index("queue_jobs"),
    Index(
        "ix_queue_jobs_lease_expiry",
        "queue_jobs",
        ["lease_expires_at"],
        where="status = 'in_progress'",
    ),
    Index(
        "ix_queue_jobs_lease_id",
        "queue_jobs",
        ["lease_id"],
        unique=True,
        where="lease_id IS NOT NULL",
    ),
    Index(
        "ix_queue_jobs_dedupe",
        "queue_jobs",
        ["queue", "dedupe_key"],
        unique=True,
        where="dedupe_key IS NOT NULL",
    ),
    Index("ix_queue_jobs_finished_at", "queue_jobs_finished", ["finished_at"]),
    Index(
        "ix_queue_jobs_finished_dead",
        "queue_jobs_finished",
        ["queue", "finished_at", "id"],
        where="status = 'dead'",
    ),
)
#: The queue indexes of ``tasks.tasks`` as 0006 left them.
_TASKS_QUEUE: tuple[tuple[str, list[str | sa.TextClause], bool, str], ...] = (
    ("ix_tasks_queue_live", ["queue", "status", "run_at"], False, LIVE),
    ("ix_tasks_lease_expiry", ["lease_expires_at"], False, "status = 'in_progress'"),
    ("ix_tasks_lease_id", ["lease_id"], True, "lease_id IS NOT NULL"),
    ("ix_tasks_dedupe", ["queue", "dedupe_key"], True, f"dedupe_key IS NOT NULL AND {LIVE}"),
    ("ix_tasks_queue_finished", ["updated_at"], False, f"queue IS NOT NULL AND {FINISHED}"),
    ("ix_tasks_queue_dead", ["queue", "updated_at"], False, "status = 'dead'"),
)
_TASKS_QUEUE_INDEXES = [
    claim_index("tasks"),
    *(
        Index(name, "tasks", columns, unique=unique, where=where)
        for name, columns, unique, where in _TASKS_QUEUE
    ),
]
#: The task API's indexes of ``tasks.tasks`` (all but the primary key and the default
#: listing's ``ix_tasks_created``) as ``pg_get_indexdef`` writes them; 0006 made them
#: partial on plain tasks.
_API_INDEX_DEFS = """
SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
WHERE i.indrelid = 'tasks.tasks'::regclass AND NOT i.indisprimary
  AND c.relname <> 'ix_tasks_created' AND c.relname NOT IN :queue_indexes
"""
_PLAIN_ONLY = " WHERE (queue IS NULL)"


def _column(name: str, *, required: bool) -> sa.Column[Any]:
    """A fresh column ``name`` of its type and default (NOT NULL when ``required``)."""
    kind = _TYPES[name]
    type_ = sa.DateTime(timezone=True) if kind == _TIME else _SA_TYPES[kind]()
    default = _DEFAULTS.get(name)
    return sa.Column(
        name, type_, server_default=sa.text(default) if default else None, nullable=not required
    )


def _job_table(name: str, statuses: str, columns: list[str]) -> None:
    """Create a queue job table with ``columns`` holding jobs in ``statuses``."""
    op.create_table(
        name,
        *(_column(column, required=column not in _OPTIONAL) for column in columns),
        sa.CheckConstraint(statuses, name=op.f(f"ck_{name}_status_known")),
        sa.CheckConstraint("priority BETWEEN 0 AND 3", name=op.f(f"ck_{name}_priority_known")),
        sa.CheckConstraint(_PAYLOAD_OBJECT, name=op.f(f"ck_{name}_payload_object")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        schema="tasks",
    )


def _rebuild_api_indexes(*, partial: bool) -> None:
    """The task API's indexes again, each as it is but full, or partial on plain tasks
    (read back from the catalog, so they are rebuilt exactly as they were)."""
    query = sa.text(_API_INDEX_DEFS).bindparams(sa.bindparam("queue_indexes", expanding=True))
    names = [index.name for index in _TASKS_QUEUE_INDEXES]
    for name, definition in op.get_bind().execute(query, {"queue_indexes": names}).all():
        op.drop_index(name, table_name="tasks", schema="tasks")
        full = definition.removesuffix(_PLAIN_ONLY)
        op.execute(full + _PLAIN_ONLY if partial else full)


def upgrade() -> None:
    _job_table("queue_jobs", LIVE, _JOB)
    _job_table("queue_jobs_finished", FINISHED, list(_TYPES))
    create_indexes("tasks", *_JOB_INDEXES)
    # A queued task always had run_at; coalesce only guards the NOT NULL.
    moved = _JOB_COLUMNS.replace("run_at", "coalesce(run_at, created_at)")
    op.execute(
        f"INSERT INTO tasks.queue_jobs ({_JOB_COLUMNS}) SELECT {moved}"
        f" FROM tasks.tasks WHERE queue IS NOT NULL AND {LIVE}"
    )
    op.execute(
        f"INSERT INTO tasks.queue_jobs_finished ({_FINISHED_COLUMNS})"
        f" SELECT {moved}, result, completed_at, updated_at"
        f" FROM tasks.tasks WHERE queue IS NOT NULL AND {FINISHED}"
    )
    op.execute("DELETE FROM tasks.tasks WHERE queue IS NOT NULL")
    # Before the columns go: dropping ``queue`` would drop the indexes partial on it.
    _rebuild_api_indexes(partial=False)
    drop_indexes("tasks", *_TASKS_QUEUE_INDEXES)
    op.drop_constraint(op.f("ck_tasks_payload_object"), "tasks", schema="tasks")
    for column in reversed(_QUEUE_ONLY):
        op.drop_column("tasks", column, schema="tasks")
    op.execute(
        f"CREATE VIEW tasks.queue_tasks AS SELECT {_JOB_COLUMNS}, NULL::jsonb AS result,"
        " NULL::timestamptz AS completed_at, NULL::timestamptz AS finished_at"
        f" FROM tasks.queue_jobs UNION ALL SELECT {_FINISHED_COLUMNS}"
        " FROM tasks.queue_jobs_finished"
    )


def downgrade() -> None:
    op.execute("DROP VIEW tasks.queue_tasks")
    for column in _QUEUE_ONLY:
        op.add_column("tasks", _column(column, required=column == "attempts"), schema="tasks")
    op.create_check_constraint(
        op.f("ck_tasks_payload_object"), "tasks", _PAYLOAD_OBJECT, schema="tasks"
    )
    _rebuild_api_indexes(partial=True)
    create_indexes("tasks", *_TASKS_QUEUE_INDEXES)
    op.execute(
        f"INSERT INTO tasks.tasks ({_FINISHED_COLUMNS.replace(', finished_at', '')})"
        f" SELECT {_JOB_COLUMNS}, NULL, NULL FROM tasks.queue_jobs"
        f" UNION ALL SELECT {_FINISHED_COLUMNS.replace(', finished_at', '')}"
        " FROM tasks.queue_jobs_finished"
    )
    op.drop_table("queue_jobs_finished", schema="tasks")
    op.drop_table("queue_jobs", schema="tasks")
