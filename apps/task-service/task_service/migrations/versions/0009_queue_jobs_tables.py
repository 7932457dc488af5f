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

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CLAIMABLE = "status IN ('pending', 'scheduled', 'retrying')"
_LIVE = "status IN ('pending', 'scheduled', 'retrying', 'in_progress')"
_FINISHED = "status IN ('completed', 'cancelled', 'dead')"
_PAYLOAD_OBJECT = "payload IS NULL OR jsonb_typeof(payload) = 'object'"

#: Every queue job's columns, live or finished, in the view's order.
_JOB_COLUMNS = (
    "id, queue, status, priority, title, payload, owner_id, traceparent, max_attempts,"
    " attempts, run_at, timeout_s, dedupe_key, lease_id, leased_by, leased_at,"
    " lease_expires_at, last_error, version, created_at, updated_at"
)
_FINISHED_COLUMNS = f"{_JOB_COLUMNS}, result, completed_at, finished_at"


#: The columns 0002 added to ``tasks.tasks`` for queued tasks (none is read for a
#: plain task: the task API built a task's ``queue`` details from them only when
#: ``queue`` was set), in 0002's order; a function, since a column belongs to one table.
def _queue_only() -> tuple[sa.Column[object], ...]:
    return (
        sa.Column("queue", sa.Text(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=True),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("timeout_s", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.Text(), nullable=True),
        sa.Column("lease_id", sa.UUID(), nullable=True),
        sa.Column("leased_by", sa.Text(), nullable=True),
        sa.Column("leased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("traceparent", sa.Text(), nullable=True),
    )


#: The queue indexes of ``tasks.tasks`` as 0006 left them: name, columns, unique, where.
_TASKS_QUEUE_INDEXES: tuple[tuple[str, list[str | sa.TextClause], bool, str], ...] = (
    ("ix_tasks_claim", ["queue", sa.text("priority DESC"), "run_at", "id"], False, _CLAIMABLE),
    ("ix_tasks_queue_live", ["queue", "status", "run_at"], False, _LIVE),
    ("ix_tasks_lease_expiry", ["lease_expires_at"], False, "status = 'in_progress'"),
    ("ix_tasks_lease_id", ["lease_id"], True, "lease_id IS NOT NULL"),
    ("ix_tasks_dedupe", ["queue", "dedupe_key"], True, f"dedupe_key IS NOT NULL AND {_LIVE}"),
    ("ix_tasks_queue_finished", ["updated_at"], False, f"queue IS NOT NULL AND {_FINISHED}"),
    ("ix_tasks_queue_dead", ["queue", "updated_at"], False, "status = 'dead'"),
)
#: The task API's indexes that were partial on plain tasks (0006): name, columns, method.
_API_INDEXES: tuple[tuple[str, list[str], str], ...] = (
    ("ix_tasks_updated", ["updated_at", "id"], "btree"),
    ("ix_tasks_due", ["due_at", "id"], "btree"),
    ("ix_tasks_priority", ["priority", "id"], "btree"),
    ("ix_tasks_owner_created", ["owner_id", "created_at", "id"], "btree"),
    ("ix_tasks_assignee_created", ["assignee_id", "created_at", "id"], "btree"),
    ("ix_tasks_status_created", ["status", "created_at", "id"], "btree"),
    ("ix_tasks_tags", ["tags_normalized"], "gin"),
)


def _job_table(name: str, statuses: str, *extra: sa.Column[object]) -> None:
    """Create a queue job table: the common columns, ``extra`` ones, its checks."""
    op.create_table(
        name,
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("queue", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("owner_id", sa.UUID(), nullable=True),
        sa.Column("traceparent", sa.Text(), nullable=True),
        sa.Column("max_attempts", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timeout_s", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.Text(), nullable=True),
        sa.Column("lease_id", sa.UUID(), nullable=True),
        sa.Column("leased_by", sa.Text(), nullable=True),
        sa.Column("leased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        *(
            sa.Column(
                name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
            )
            for name in ("created_at", "updated_at")
        ),
        *extra,
        sa.CheckConstraint(statuses, name=op.f(f"ck_{name}_status_known")),
        sa.CheckConstraint("priority BETWEEN 0 AND 3", name=op.f(f"ck_{name}_priority_known")),
        sa.CheckConstraint(_PAYLOAD_OBJECT, name=op.f(f"ck_{name}_payload_object")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        schema="tasks",
    )


def _rebuild_api_indexes(where: str | None) -> None:
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
    _job_table("queue_jobs", _LIVE)
    op.create_index(
        "ix_queue_jobs_claim",
        "queue_jobs",
        ["queue", sa.text("priority DESC"), "run_at", "id"],
        schema="tasks",
        postgresql_where=sa.text(_CLAIMABLE),
    )
    op.create_index(
        "ix_queue_jobs_lease_expiry",
        "queue_jobs",
        ["lease_expires_at"],
        schema="tasks",
        postgresql_where=sa.text("status = 'in_progress'"),
    )
    op.create_index(
        "ix_queue_jobs_lease_id",
        "queue_jobs",
        ["lease_id"],
        unique=True,
        schema="tasks",
        postgresql_where=sa.text("lease_id IS NOT NULL"),
    )
    op.create_index(
        "ix_queue_jobs_dedupe",
        "queue_jobs",
        ["queue", "dedupe_key"],
        unique=True,
        schema="tasks",
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    )
    _job_table(
        "queue_jobs_finished",
        _FINISHED,
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_queue_jobs_finished_at", "queue_jobs_finished", ["finished_at"], schema="tasks"
    )
    op.create_index(
        "ix_queue_jobs_finished_dead",
        "queue_jobs_finished",
        ["queue", "finished_at", "id"],
        schema="tasks",
        postgresql_where=sa.text("status = 'dead'"),
    )
    # A queued task always had run_at; coalesce only guards the NOT NULL.
    moved = _JOB_COLUMNS.replace("run_at", "coalesce(run_at, created_at)")
    op.execute(
        f"INSERT INTO tasks.queue_jobs ({_JOB_COLUMNS}) SELECT {moved}"
        f" FROM tasks.tasks WHERE queue IS NOT NULL AND {_LIVE}"
    )
    op.execute(
        f"INSERT INTO tasks.queue_jobs_finished ({_FINISHED_COLUMNS})"
        f" SELECT {moved}, result, completed_at, updated_at"
        f" FROM tasks.tasks WHERE queue IS NOT NULL AND {_FINISHED}"
    )
    op.execute("DELETE FROM tasks.tasks WHERE queue IS NOT NULL")
    # Before the columns go: dropping ``queue`` would drop the indexes partial on it.
    _rebuild_api_indexes(None)
    for name, *_ in _TASKS_QUEUE_INDEXES:
        op.drop_index(name, table_name="tasks", schema="tasks")
    op.drop_constraint(op.f("ck_tasks_payload_object"), "tasks", schema="tasks")
    for column in reversed(_queue_only()):
        op.drop_column("tasks", column.name, schema="tasks")
    op.execute(
        f"CREATE VIEW tasks.queue_tasks AS SELECT {_JOB_COLUMNS}, NULL::jsonb AS result,"
        " NULL::timestamptz AS completed_at, NULL::timestamptz AS finished_at"
        f" FROM tasks.queue_jobs UNION ALL SELECT {_FINISHED_COLUMNS}"
        " FROM tasks.queue_jobs_finished"
    )


def downgrade() -> None:
    op.execute("DROP VIEW tasks.queue_tasks")
    for column in _queue_only():
        op.add_column("tasks", column, schema="tasks")
    op.create_check_constraint(
        op.f("ck_tasks_payload_object"), "tasks", _PAYLOAD_OBJECT, schema="tasks"
    )
    _rebuild_api_indexes("queue IS NULL")
    for name, columns, unique, where in _TASKS_QUEUE_INDEXES:
        op.create_index(
            name,
            "tasks",
            columns,
            unique=unique,
            schema="tasks",
            postgresql_where=sa.text(where),
        )
    op.execute(
        f"INSERT INTO tasks.tasks ({_FINISHED_COLUMNS.replace(', finished_at', '')})"
        f" SELECT {_JOB_COLUMNS}, NULL, NULL FROM tasks.queue_jobs"
        f" UNION ALL SELECT {_FINISHED_COLUMNS.replace(', finished_at', '')}"
        " FROM tasks.queue_jobs_finished"
    )
    op.drop_table("queue_jobs_finished", schema="tasks")
    op.drop_table("queue_jobs", schema="tasks")
