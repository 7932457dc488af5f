"""tasks, idempotency keys and the event outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:17:33.946061
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from taskplane_common.migration_ops import (
    Index,
    create_indexes,
    drop_tables,
    primary_key,
    timestamp,
    timestamp_now,
    timestamps,
)

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "tasks"


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("task_id", sa.UUID(), nullable=False),
        sa.Column("queue", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.UUID(), nullable=True),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        timestamp_now("occurred_at"),
        primary_key("events", "id"),
        schema=SCHEMA,
    )
    # xid8 has no SQLAlchemy type: the writing transaction's id, used by the event feed.
    op.execute(
        "ALTER TABLE tasks.events ADD COLUMN tx_id xid8 NOT NULL DEFAULT pg_current_xact_id()"
    )
    create_indexes(SCHEMA, Index("ix_events_task", "events", ["task_id"]))
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        timestamp_now("created_at"),
        timestamp("expires_at", nullable=False),
        primary_key("idempotency_keys", "scope", "key"),
        schema=SCHEMA,
    )
    create_indexes(SCHEMA, Index("ix_idempotency_keys_expires", "idempotency_keys", ["expires_at"]))
    op.create_table(
        "tasks",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("priority", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        timestamp("due_at"),
        sa.Column(
            "tags", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column(
            "tags_normalized",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("assignee_id", sa.UUID(), nullable=True),
        sa.Column("owner_id", sa.UUID(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        *timestamps(),
        timestamp("completed_at"),
        sa.CheckConstraint(
            "status IN ('pending', 'scheduled', 'in_progress', 'retrying', "
            "'completed', 'dead', 'cancelled')",
            name=op.f("ck_tasks_status_known"),
        ),
        sa.CheckConstraint(
            "char_length(title) BETWEEN 1 AND 200", name=op.f("ck_tasks_title_length")
        ),
        sa.CheckConstraint("priority BETWEEN 0 AND 3", name=op.f("ck_tasks_priority_known")),
        primary_key("tasks", "id"),
        schema=SCHEMA,
    )
    create_indexes(
        SCHEMA,
        Index("ix_tasks_assignee_created", "tasks", ["assignee_id", "created_at", "id"]),
        Index("ix_tasks_created", "tasks", ["created_at", "id"]),
        Index("ix_tasks_due", "tasks", ["due_at", "id"]),
        Index("ix_tasks_owner_created", "tasks", ["owner_id", "created_at", "id"]),
        Index("ix_tasks_priority", "tasks", ["priority", "id"]),
        Index("ix_tasks_status_created", "tasks", ["status", "created_at", "id"]),
        Index("ix_tasks_tags", "tasks", ["tags_normalized"], using="gin"),
        Index("ix_tasks_updated", "tasks", ["updated_at", "id"]),
    )


def downgrade() -> None:
    drop_tables(SCHEMA, "tasks", "idempotency_keys", "events")
