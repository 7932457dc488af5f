"""Database tables of the notification-service, all in the PostgreSQL schema ``notifications``.

``deliveries`` is the outbox of every channel that leaves the process (webhook, email):
rows are written in the same transaction that moves the feed cursor, and partial unique
indexes make a second write of the same event a no-op (dedupe by event id).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Sequence,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from taskplane_common.audit import audit_table
from taskplane_common.columns import Timestamp, TimestampNow, UuidColumn, UuidPrimaryKey
from taskplane_common.metadata import service_metadata

SCHEMA = "notifications"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class ConsumerState(Base):
    """The feed cursor: advanced in the transaction that stores what the events caused."""

    __tablename__ = "consumer_state"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[TimestampNow]


class TaskAssignee(Base):
    """Who a task is assigned to, learnt from ``task.assigned`` events (the feed is ordered
    per task, so this is current for every later event of the task)."""

    __tablename__ = "task_assignees"

    task_id: Mapped[UuidPrimaryKey]
    assignee_id: Mapped[UuidColumn | None]


class Webhook(Base):
    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_owner", "owner_id", "created_at"),)

    id: Mapped[UuidPrimaryKey]
    owner_id: Mapped[UuidColumn]
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(ARRAY(String(50)))
    description: Mapped[str | None] = mapped_column(String(200))
    #: The signing secret, AES-GCM sealed under the row's data key (notification_service.keys).
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The row's data key, wrapped by the key-encryption key named by ``kek_id``.
    data_key: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(300))
    previous_secret_expires_at: Mapped[Timestamp | None]
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    #: Start of the current run of failed deliveries (None after any success).
    failing_since: Mapped[Timestamp | None]
    created_at: Mapped[TimestampNow]
    updated_at: Mapped[TimestampNow]


class Delivery(Base):
    """One message to one webhook or one mailbox, retried until delivered or failed."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index(
            "uq_deliveries_webhook_event",
            "webhook_id",
            "event_id",
            unique=True,
            postgresql_where=text("channel = 'webhook'"),
        ),
        Index(
            "uq_deliveries_email_event",
            "user_id",
            "event_id",
            unique=True,
            postgresql_where=text("channel = 'email'"),
        ),
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'delivering')"),
        ),
        Index("ix_deliveries_webhook_log", "webhook_id", "created_at", "id"),
        Index(
            "ix_deliveries_finished",
            "finished_at",
            postgresql_where=text("status IN ('succeeded', 'failed')"),
        ),
    )

    id: Mapped[UuidPrimaryKey]
    channel: Mapped[str] = mapped_column(String(16))
    webhook_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE")
    )
    user_id: Mapped[UuidColumn | None]
    recipient: Mapped[str | None] = mapped_column(String(320))
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(50))
    event_occurred_at: Mapped[Timestamp]
    #: The exact webhook body (signed bytes, identical on every retry) or the email as JSON.
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[TimestampNow]
    lease_until: Mapped[Timestamp | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    traceparent: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[TimestampNow]
    finished_at: Mapped[Timestamp | None]


class DeliveryAttempt(Base):
    """The delivery log: one row per attempt, with when the next one is due."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_delivery", "delivery_id", "attempt"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[Timestamp]
    duration_ms: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[Timestamp | None]


class Notification(Base):
    """An in-app notification; ``read`` is a column so unread-first pages walk an index."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("uq_notifications_user_event", "user_id", "event_id", unique=True),
        Index("ix_notifications_page", "user_id", "read", text("created_at DESC"), text("id DESC")),
        Index("ix_notifications_read_at", "read_at", postgresql_where=text("read")),
    )

    id: Mapped[UuidPrimaryKey]
    user_id: Mapped[UuidColumn]
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(50))
    task_id: Mapped[UuidColumn | None]
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    read: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    read_at: Mapped[Timestamp | None]
    created_at: Mapped[TimestampNow]


#: Event ids of test deliveries, used negated (feed event ids are positive).
TEST_EVENT_IDS = Sequence("test_event_ids", metadata=Base.metadata)

AUDIT_LOG = audit_table(Base.metadata)
