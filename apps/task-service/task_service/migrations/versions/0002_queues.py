"""queue engine: queue columns on tasks, queues, sharded counters, feed index and NOTIFY

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from task_service.migrations.queue_ops import LIVE, claim_index
from taskplane_common.migration_ops import (
    Index,
    create_indexes,
    drop_indexes,
    drop_tables,
    primary_key,
    timestamp,
    timestamp_now,
    timestamps,
)

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "tasks"

#: The queue indexes of ``tasks.tasks``.
QUEUE_INDEXES = (
    claim_index("tasks"),
    Index("ix_tasks_queue_live", "tasks", ["queue", "status", "run_at"], where=LIVE),
    Index("ix_tasks_lease_expiry", "tasks", ["lease_expires_at"], where="status = 'in_progress'"),
    Index("ix_tasks_lease_id", "tasks", ["lease_id"], unique=True, where="lease_id IS NOT NULL"),
    Index(
        "ix_tasks_dedupe",
        "tasks",
        ["queue", "dedupe_key"],
        unique=True,
        where=f"dedupe_key IS NOT NULL AND {LIVE}",
    ),
    Index("ix_tasks_queue_dead", "tasks", ["queue", "updated_at"], where="status = 'dead'"),
)


def _queue_columns() -> list[sa.Column[Any]]:
    """The columns a queued task adds to ``tasks.tasks`` (fresh objects: a column belongs
    to one table)."""
    return [
        sa.Column("queue", sa.Text(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=True),
        timestamp("run_at"),
        sa.Column("timeout_s", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.Text(), nullable=True),
        sa.Column("lease_id", sa.UUID(), nullable=True),
        sa.Column("leased_by", sa.Text(), nullable=True),
        timestamp("leased_at"),
        timestamp("lease_expires_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("traceparent", sa.Text(), nullable=True),
    ]


def upgrade() -> None:
    for column in _queue_columns():
        op.add_column("tasks", column, schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_tasks_payload_object"),
        "tasks",
        "payload IS NULL OR jsonb_typeof(payload) = 'object'",
        schema=SCHEMA,
    )
    create_indexes(SCHEMA, *QUEUE_INDEXES)

    op.create_table(
        "queues",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default=sa.text("5"), nullable=False),
        sa.Column(
            "visibility_timeout_s", sa.Integer(), server_default=sa.text("60"), nullable=False
        ),
        sa.Column("backoff_base_s", sa.Double(), server_default=sa.text("2"), nullable=False),
        sa.Column("backoff_max_s", sa.Double(), server_default=sa.text("300"), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("rate_limit_per_s", sa.Double(), nullable=True),
        sa.Column("max_in_flight", sa.Integer(), nullable=True),
        sa.Column("rate_tokens", sa.Double(), server_default=sa.text("0"), nullable=False),
        timestamp_now("rate_refilled_at"),
        *timestamps(),
        sa.CheckConstraint("max_attempts >= 1", name=op.f("ck_queues_max_attempts_positive")),
        sa.CheckConstraint("visibility_timeout_s >= 1", name=op.f("ck_queues_visibility_positive")),
        primary_key("queues", "name"),
        schema=SCHEMA,
    )
    op.create_table(
        "queue_counters",
        sa.Column("queue", sa.Text(), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("completed_total", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed_total", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        primary_key("queue_counters", "queue", "shard"),
        schema=SCHEMA,
    )

    op.create_index("ix_events_feed", "events", ["tx_id", "id"], schema=SCHEMA)
    # Wake long-polling feed readers once per writing statement; NOTIFY is delivered at
    # commit, and identical notifications of one transaction are folded into one.
    op.execute(
        """
        CREATE FUNCTION tasks.notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('taskplane_events', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER events_notify AFTER INSERT ON tasks.events "
        "FOR EACH STATEMENT EXECUTE FUNCTION tasks.notify_events()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER events_notify ON tasks.events")
    op.execute("DROP FUNCTION tasks.notify_events()")
    op.drop_index("ix_events_feed", table_name="events", schema=SCHEMA)
    drop_tables(SCHEMA, "queue_counters", "queues")
    drop_indexes(SCHEMA, *QUEUE_INDEXES)
    op.drop_constraint(op.f("ck_tasks_payload_object"), "tasks", schema=SCHEMA)
    for column in reversed(_queue_columns()):
        op.drop_column("tasks", column.name, schema=SCHEMA)
