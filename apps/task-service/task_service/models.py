"""Database tables of the task-service, all in the PostgreSQL schema ``tasks``."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Double,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.dialects.postgresql import base as postgresql_base
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from taskplane_common.audit import audit_table
from taskplane_common.db import service_metadata

SCHEMA = "tasks"


class XID8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id type (``pg_current_xact_id()``)."""

    cache_ok = True

    def get_col_spec(self, **_: Any) -> str:
        return "xid8"


# Let reflection (alembic's model/migration comparison) recognise the column type.
postgresql_base.ischema_names["xid8"] = XID8


class TaskStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    RETRYING = "retrying"
    COMPLETED = "completed"
    DEAD = "dead"
    CANCELLED = "cancelled"


#: Statuses after which a task never changes again (not overdue, not claimable).
FINAL_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.DEAD, TaskStatus.CANCELLED})
#: Queued statuses a lease may claim once ``run_at`` has passed.
CLAIMABLE_STATUSES = (TaskStatus.PENDING, TaskStatus.SCHEDULED, TaskStatus.RETRYING)
#: ``FINAL_STATUSES`` in a fixed order, for SQL predicates that must match literally.
FINISHED_STATUSES = (TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.DEAD)
#: Statuses of a task that is still going to run: at most one per ``dedupe_key``.
LIVE_STATUSES = (*CLAIMABLE_STATUSES, TaskStatus.IN_PROGRESS)


def _in(statuses: tuple[TaskStatus, ...]) -> str:
    return "status IN (" + ", ".join(f"'{s.value}'" for s in statuses) + ")"


#: Predicate of the dedupe index, as literal SQL: ON CONFLICT can only infer a partial
#: index from a literal predicate (not from parameters of a prepared statement).
DEDUPE_PREDICATE = f"dedupe_key IS NOT NULL AND {_in(LIVE_STATUSES)}"


#: Predicate of the task API's partial indexes: plain tasks, not queued ones.
API_INDEX_PREDICATE = "queue IS NULL"
API_ONLY = text(API_INDEX_PREDICATE)
#: Predicate of the retention index: queued tasks that finished.
QUEUE_FINISHED_PREDICATE = f"queue IS NOT NULL AND {_in(FINISHED_STATUSES)}"


class Priority(IntEnum):
    """Stored as a small integer so ``ORDER BY priority`` is the business order."""

    LOW = 0
    MEDIUM = 1
    HIGH = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Priority:
        return cls[label.upper()]


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


def _status_check() -> str:
    return _in(tuple(TaskStatus))


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(_status_check(), name="status_known"),
        CheckConstraint("priority BETWEEN 0 AND 3", name="priority_known"),
        CheckConstraint("char_length(title) BETWEEN 1 AND 200", name="title_length"),
        # The task API's indexes. Every queue transition is a non-HOT update, which
        # writes an entry into every index whose predicate the row matches, so all but
        # the default listing's hold plain tasks only (API_INDEX_PREDICATE).
        Index("ix_tasks_created", "created_at", "id"),
        Index("ix_tasks_updated", "updated_at", "id", postgresql_where=API_ONLY),
        Index("ix_tasks_due", "due_at", "id", postgresql_where=API_ONLY),
        Index("ix_tasks_priority", "priority", "id", postgresql_where=API_ONLY),
        Index("ix_tasks_owner_created", "owner_id", "created_at", "id", postgresql_where=API_ONLY),
        Index(
            "ix_tasks_assignee_created",
            "assignee_id",
            "created_at",
            "id",
            postgresql_where=API_ONLY,
        ),
        Index("ix_tasks_status_created", "status", "created_at", "id", postgresql_where=API_ONLY),
        Index(
            "ix_tasks_tags", "tags_normalized", postgresql_using="gin", postgresql_where=API_ONLY
        ),
        CheckConstraint(
            "payload IS NULL OR jsonb_typeof(payload) = 'object'", name="payload_object"
        ),
        # Queue engine: every index is partial, so its size follows the live backlog and
        # not the history of completed tasks (stats stay cheap at millions of rows).
        Index(
            "ix_tasks_claim",
            "queue",
            text("priority DESC"),
            "run_at",
            "id",
            postgresql_where=text(_in(CLAIMABLE_STATUSES)),
        ),
        Index(
            "ix_tasks_queue_live",
            "queue",
            "status",
            "run_at",
            postgresql_where=text(_in(LIVE_STATUSES)),
        ),
        Index(
            "ix_tasks_lease_expiry",
            "lease_expires_at",
            postgresql_where=text("status = 'in_progress'"),
        ),
        Index(
            "ix_tasks_lease_id",
            "lease_id",
            unique=True,
            postgresql_where=text("lease_id IS NOT NULL"),
        ),
        Index(
            "ix_tasks_dedupe",
            "queue",
            "dedupe_key",
            unique=True,
            postgresql_where=text(DEDUPE_PREDICATE),
        ),
        # Retention walks finished queued tasks from the oldest (one entry per task,
        # written by its last transition).
        Index(
            "ix_tasks_queue_finished",
            "updated_at",
            postgresql_where=text(QUEUE_FINISHED_PREDICATE),
        ),
        Index(
            "ix_tasks_queue_dead",
            "queue",
            "updated_at",
            postgresql_where=text("status = 'dead'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), server_default=TaskStatus.PENDING.value)
    priority: Mapped[int] = mapped_column(SmallInteger, server_default=text("1"))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    #: Lower-cased copy of ``tags`` for case-insensitive filtering through the GIN index.
    tags_normalized: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    #: Bumped on every change; the ETag is derived from it.
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Queue engine columns; NULL ``queue`` means a plain (human) task.
    queue: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    #: Attempts started so far (incremented when a lease is granted).
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: Per-task override; NULL follows the queue's current configuration.
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    #: When the task becomes (or became) available; the age used for ordering.
    run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    timeout_s: Mapped[int | None] = mapped_column(Integer)
    dedupe_key: Mapped[str | None] = mapped_column(Text)
    lease_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    leased_by: Mapped[str | None] = mapped_column(Text)
    leased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[Any | None] = mapped_column(JSONB)
    #: W3C trace context current at enqueue, so the worker's span continues that trace.
    traceparent: Mapped[str | None] = mapped_column(Text)


class Queue(Base):
    """Configuration of one queue (set by the operator) and its rate-limit bucket."""

    __tablename__ = "queues"
    __table_args__ = (
        CheckConstraint("max_attempts >= 1", name="max_attempts_positive"),
        CheckConstraint("visibility_timeout_s >= 1", name="visibility_positive"),
    )

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    max_attempts: Mapped[int] = mapped_column(Integer, server_default=text("5"))
    visibility_timeout_s: Mapped[int] = mapped_column(Integer, server_default=text("60"))
    backoff_base_s: Mapped[float] = mapped_column(Double, server_default=text("2"))
    backoff_max_s: Mapped[float] = mapped_column(Double, server_default=text("300"))
    paused: Mapped[bool] = mapped_column(server_default=text("false"))
    rate_limit_per_s: Mapped[float | None] = mapped_column(Double)
    max_in_flight: Mapped[int | None] = mapped_column(Integer)
    #: Token bucket for ``rate_limit_per_s``; only touched under the row lock of a lease.
    rate_tokens: Mapped[float] = mapped_column(Double, server_default=text("0"))
    #: How long finished tasks are kept (seconds; NULL keeps them forever).
    completed_retention_s: Mapped[int | None] = mapped_column(Integer, server_default=text("86400"))
    cancelled_retention_s: Mapped[int | None] = mapped_column(
        Integer, server_default=text("604800")
    )
    dead_retention_s: Mapped[int | None] = mapped_column(Integer, server_default=text("2592000"))
    rate_refilled_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class QueueCounter(Base):
    """Monotonic totals, sharded so concurrent completions do not queue on one hot row."""

    __tablename__ = "queue_counters"

    queue: Mapped[str] = mapped_column(Text, primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    completed_total: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    failed_total: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class FeedHorizon(Base):
    """At most one row: the feed position of the newest event retention deleted."""

    __tablename__ = "feed_horizon"
    __table_args__ = (CheckConstraint("singleton", name="one_row"),)

    singleton: Mapped[bool] = mapped_column(primary_key=True, server_default=text("true"))
    tx_id: Mapped[int] = mapped_column(XID8, server_default=text("'0'"))
    id: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class IdempotencyKey(Base):
    """The first response to a POST with an ``Idempotency-Key``, replayed for retries."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires", "expires_at"),)

    scope: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    response_body: Mapped[Any | None] = mapped_column(JSONB)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Event(Base):
    """Transactional outbox: written in the same transaction as the change it describes.

    ``tx_id`` is the writing transaction's id: the feed only hands out events older than
    every transaction still running, so ids that commit out of order are never skipped.
    """

    __tablename__ = "events"
    __table_args__ = (
        # The feed's order (and retention's): (transaction id, id), see
        # task_service.queue.feed. No other index: each costs an entry per queue transition.
        Index("ix_events_feed", "tx_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    type: Mapped[str] = mapped_column(String(50))
    task_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    queue: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    tx_id: Mapped[int] = mapped_column(XID8, server_default=text("pg_current_xact_id()"))
    #: The W3C trace context of the change, which consumers continue.
    traceparent: Mapped[str | None] = mapped_column(Text)


AUDIT_LOG = audit_table(Base.metadata)
