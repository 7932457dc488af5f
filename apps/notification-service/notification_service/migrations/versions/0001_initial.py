"""feed cursor, webhooks, deliveries and in-app notifications

Revision ID: 0001
Revises:
Create Date: 2026-11-28 03:31:02.280429
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from taskplane_common.migration_ops import (
    Index,
    cascade_foreign_key,
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

SCHEMA = "notifications"


def upgrade() -> None:
    op.create_table(
        "consumer_state",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("cursor", sa.String(length=64), nullable=False),
        timestamp_now("updated_at"),
        primary_key("consumer_state", "name"),
        schema=SCHEMA,
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("task_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("read", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        timestamp("read_at"),
        timestamp_now("created_at"),
        primary_key("notifications", "id"),
        schema=SCHEMA,
    )
    create_indexes(
        SCHEMA,
        Index(
            "ix_notifications_page",
            "notifications",
            ["user_id", "read", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        ),
        Index("uq_notifications_user_event", "notifications", ["user_id", "event_id"], unique=True),
    )
    op.create_table(
        "task_assignees",
        sa.Column("task_id", sa.UUID(), nullable=False),
        sa.Column("assignee_id", sa.UUID(), nullable=True),
        primary_key("task_assignees", "task_id"),
        schema=SCHEMA,
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("owner_id", sa.UUID(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.String(length=50)), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        timestamp("previous_secret_expires_at"),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        timestamp("failing_since"),
        *timestamps(),
        primary_key("webhooks", "id"),
        schema=SCHEMA,
    )
    create_indexes(SCHEMA, Index("ix_webhooks_owner", "webhooks", ["owner_id", "created_at"]))
    op.create_table(
        "deliveries",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("webhook_id", sa.UUID(), nullable=True),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        timestamp("event_occurred_at", nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        timestamp_now("next_attempt_at"),
        timestamp("lease_until"),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("traceparent", sa.Text(), nullable=True),
        timestamp_now("created_at"),
        timestamp("finished_at"),
        cascade_foreign_key("deliveries", "webhook_id", "notifications.webhooks.id"),
        primary_key("deliveries", "id"),
        schema=SCHEMA,
    )
    create_indexes(
        SCHEMA,
        Index(
            "ix_deliveries_due",
            "deliveries",
            ["next_attempt_at"],
            where="status IN ('pending', 'delivering')",
        ),
        Index("ix_deliveries_webhook_log", "deliveries", ["webhook_id", "created_at", "id"]),
        Index(
            "uq_deliveries_email_event",
            "deliveries",
            ["user_id", "event_id"],
            unique=True,
            where="channel = 'email'",
        ),
        Index(
            "uq_deliveries_webhook_event",
            "deliveries",
            ["webhook_id", "event_id"],
            unique=True,
            where="channel = 'webhook'",
        ),
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("delivery_id", sa.UUID(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        timestamp("started_at", nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        timestamp("next_attempt_at"),
        cascade_foreign_key("delivery_attempts", "delivery_id", "notifications.deliveries.id"),
        primary_key("delivery_attempts", "id"),
        schema=SCHEMA,
    )
    create_indexes(
        SCHEMA,
        Index("ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id", "attempt"]),
    )


def downgrade() -> None:
    drop_tables(
        SCHEMA,
        "delivery_attempts",
        "deliveries",
        "webhooks",
        "task_assignees",
        "notifications",
        "consumer_state",
    )
