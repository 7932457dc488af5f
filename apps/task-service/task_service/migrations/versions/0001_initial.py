"""tasks, idempotency keys and the event outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:17:33.946061
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        schema="tasks",
    )
    # xid8 has no SQLAlchemy type: the writing transaction's id, used by the event feed.
    op.execute(
        "ALTER TABLE tasks.events ADD COLUMN tx_id xid8 NOT NULL DEFAULT pg_current_xact_id()"
    )
    op.create_index("ix_events_task", "events", ["task_id"], unique=False, schema="tasks")
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
        schema="tasks",
    )
    op.create_index(
        "ix_idempotency_keys_expires",
        "idempotency_keys",
        ["expires_at"],
        unique=False,
        schema="tasks",
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("priority", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'scheduled', 'in_progress', 'retrying', "
            "'completed', 'dead', 'cancelled')",
            name=op.f("ck_tasks_status_known"),
        ),
        sa.CheckConstraint(
            "char_length(title) BETWEEN 1 AND 200", name=op.f("ck_tasks_title_length")
        ),
        sa.CheckConstraint("priority BETWEEN 0 AND 3", name=op.f("ck_tasks_priority_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        schema="tasks",
    )
    op.create_index(
        "ix_tasks_assignee_created",
        "tasks",
        ["assignee_id", "created_at", "id"],
        unique=False,
        schema="tasks",
    )
    op.create_index("ix_tasks_created", "tasks", ["created_at", "id"], unique=False, schema="tasks")
    op.create_index("ix_tasks_due", "tasks", ["due_at", "id"], unique=False, schema="tasks")
    op.create_index(
        "ix_tasks_owner_created",
        "tasks",
        ["owner_id", "created_at", "id"],
        unique=False,
        schema="tasks",
    )
    op.create_index("ix_tasks_priority", "tasks", ["priority", "id"], unique=False, schema="tasks")
    op.create_index(
        "ix_tasks_status_created",
        "tasks",
        ["status", "created_at", "id"],
        unique=False,
        schema="tasks",
    )
    op.create_index(
        "ix_tasks_tags",
        "tasks",
        ["tags_normalized"],
        unique=False,
        schema="tasks",
        postgresql_using="gin",
    )
    op.create_index("ix_tasks_updated", "tasks", ["updated_at", "id"], unique=False, schema="tasks")


def downgrade() -> None:
    op.drop_index("ix_tasks_updated", table_name="tasks", schema="tasks")
    op.drop_index("ix_tasks_tags", table_name="tasks", schema="tasks", postgresql_using="gin")
    op.drop_index("ix_tasks_status_created", table_name="tasks", schema="tasks")
    op.drop_index("ix_tasks_priority", table_name="tasks", schema="tasks")
    op.drop_index("ix_tasks_owner_created", table_name="tasks", schema="tasks")
    op.drop_index("ix_tasks_due", table_name="tasks", schema="tasks")
    op.drop_index("ix_tasks_created", table_name="tasks", schema="tasks")
    op.drop_index("ix_tasks_assignee_created", table_name="tasks", schema="tasks")
    op.drop_table("tasks", schema="tasks")
    op.drop_index("ix_idempotency_keys_expires", table_name="idempotency_keys", schema="tasks")
    op.drop_table("idempotency_keys", schema="tasks")
    op.drop_index("ix_events_task", table_name="events", schema="tasks")
    op.drop_table("events", schema="tasks")
