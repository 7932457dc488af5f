"""feed cursor, webhooks, deliveries and in-app notifications

Revision ID: 0001
Revises:
Create Date: 2026-11-28 03:31:02.280429
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
        "consumer_state",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("cursor", sa.String(length=64), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_consumer_state")),
        schema="notifications",
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
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        schema="notifications",
    )
    op.create_index(
        "ix_notifications_page",
        "notifications",
        ["user_id", "read", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
        schema="notifications",
    )
    op.create_index(
        "uq_notifications_user_event",
        "notifications",
        ["user_id", "event_id"],
        unique=True,
        schema="notifications",
    )
    op.create_table(
        "task_assignees",
        sa.Column("task_id", sa.UUID(), nullable=False),
        sa.Column("assignee_id", sa.UUID(), nullable=True),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_task_assignees")),
        schema="notifications",
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
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
        schema="notifications",
    )
    op.create_index(
        "ix_webhooks_owner",
        "webhooks",
        ["owner_id", "created_at"],
        unique=False,
        schema="notifications",
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("webhook_id", sa.UUID(), nullable=True),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("event_occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("traceparent", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["notifications.webhooks.id"],
            name=op.f("fk_deliveries_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        schema="notifications",
    )
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        unique=False,
        schema="notifications",
        postgresql_where=sa.text("status IN ('pending', 'delivering')"),
    )
    op.create_index(
        "ix_deliveries_webhook_log",
        "deliveries",
        ["webhook_id", "created_at", "id"],
        unique=False,
        schema="notifications",
    )
    op.create_index(
        "uq_deliveries_email_event",
        "deliveries",
        ["user_id", "event_id"],
        unique=True,
        schema="notifications",
        postgresql_where=sa.text("channel = 'email'"),
    )
    op.create_index(
        "uq_deliveries_webhook_event",
        "deliveries",
        ["webhook_id", "event_id"],
        unique=True,
        schema="notifications",
        postgresql_where=sa.text("channel = 'webhook'"),
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("delivery_id", sa.UUID(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["notifications.deliveries.id"],
            name=op.f("fk_delivery_attempts_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
        schema="notifications",
    )
    op.create_index(
        "ix_delivery_attempts_delivery",
        "delivery_attempts",
        ["delivery_id", "attempt"],
        unique=False,
        schema="notifications",
    )


def downgrade() -> None:
    op.drop_index(
        "ix_delivery_attempts_delivery", table_name="delivery_attempts", schema="notifications"
    )
    op.drop_table("delivery_attempts", schema="notifications")
    op.drop_index(
        "uq_deliveries_webhook_event",
        table_name="deliveries",
        schema="notifications",
        postgresql_where=sa.text("channel = 'webhook'"),
    )
    op.drop_index(
        "uq_deliveries_email_event",
        table_name="deliveries",
        schema="notifications",
        postgresql_where=sa.text("channel = 'email'"),
    )
    op.drop_index("ix_deliveries_webhook_log", table_name="deliveries", schema="notifications")
    op.drop_index(
        "ix_deliveries_due",
        table_name="deliveries",
        schema="notifications",
        postgresql_where=sa.text("status IN ('pending', 'delivering')"),
    )
    op.drop_table("deliveries", schema="notifications")
    op.drop_index("ix_webhooks_owner", table_name="webhooks", schema="notifications")
    op.drop_table("webhooks", schema="notifications")
    op.drop_table("task_assignees", schema="notifications")
    op.drop_index("uq_notifications_user_event", table_name="notifications", schema="notifications")
    op.drop_index("ix_notifications_page", table_name="notifications", schema="notifications")
    op.drop_table("notifications", schema="notifications")
    op.drop_table("consumer_state", schema="notifications")
