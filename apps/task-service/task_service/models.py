"""Database tables of the task-service, all in the PostgreSQL schema ``tasks``."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Double,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import base as postgresql_base
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from taskplane_common.audit import audit_table
from taskplane_common.columns import Timestamp, TimestampNow, UuidColumn, UuidPrimaryKey
from taskplane_common.metadata import service_metadata

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
#: index from a literal predicate (not from parameters of a prepared statement). Every
#: row of ``queue_jobs`` is live, so a key only has to be present.
DEDUPE_PREDICATE = "dedupe_key IS NOT NULL"


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


#: A task's version, plain or queued: 1 at insert, bumped on every change; the ETag is
#: derived from it.
RowVersion = Annotated[int, mapped_column(Integer, server_default=text("1"))]


def _status_check() -> str:
    return _in(tuple(TaskStatus))


class Task(Base):
    """A plain task of the task API (queue jobs live in ``queue_jobs`` and
    ``queue_jobs_finished``)."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(_status_check(), name="status_known"),
        CheckConstraint("priority BETWEEN 0 AND 3", name="priority_known"),
        CheckConstraint("char_length(title) BETWEEN 1 AND 200", name="title_length"),
        # The task API's listings: one index per sort order and filter.
        Index("ix_tasks_created", "created_at", "id"),
        Index("ix_tasks_updated", "updated_at", "id"),
        Index("ix_tasks_due", "due_at", "id"),
        Index("ix_tasks_priority", "priority", "id"),
        Index("ix_tasks_owner_created", "owner_id", "created_at", "id"),
        Index("ix_tasks_assignee_created", "assignee_id", "created_at", "id"),
        Index("ix_tasks_status_created", "status", "created_at", "id"),
        Index("ix_tasks_tags", "tags_normalized", postgresql_using="gin"),
    )

    id: Mapped[UuidPrimaryKey]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), server_default=TaskStatus.PENDING.value)
    priority: Mapped[int] = mapped_column(SmallInteger, server_default=text("1"))
    due_at: Mapped[Timestamp | None]
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    #: Lower-cased copy of ``tags`` for case-insensitive filtering through the GIN index.
    tags_normalized: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    assignee_id: Mapped[UuidColumn | None]
    owner_id: Mapped[UuidColumn | None]
    version: Mapped[RowVersion]
    created_at: Mapped[TimestampNow]
    updated_at: Mapped[TimestampNow]
    completed_at: Mapped[Timestamp | None]


class _JobColumns:
    """The columns every queue job has, live or finished (``tasks.queue_tasks``)."""

    id: Mapped[UuidPrimaryKey]
    queue: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(SmallInteger)
    title: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    owner_id: Mapped[UuidColumn | None]
    #: W3C trace context current at enqueue, so the worker's span continues that trace.
    traceparent: Mapped[str | None] = mapped_column(Text)
    #: Per-job override; NULL follows the queue's current configuration.
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    #: Attempts started so far (incremented when a lease is granted).
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: When the job becomes (or became) available; the age used for ordering.
    run_at: Mapped[Timestamp]
    timeout_s: Mapped[int | None] = mapped_column(Integer)
    dedupe_key: Mapped[str | None] = mapped_column(Text)
    lease_id: Mapped[UuidColumn | None]
    leased_by: Mapped[str | None] = mapped_column(Text)
    leased_at: Mapped[Timestamp | None]
    lease_expires_at: Mapped[Timestamp | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    version: Mapped[RowVersion]
    created_at: Mapped[TimestampNow]
    updated_at: Mapped[TimestampNow]


def _owner_index(table: str) -> Index:
    """A member's job list (``GET /queues/{q}/tasks``: one queue, one owner, newest
    first); jobs without an owner (a service token's) are never listed by owner."""
    return Index(
        f"ix_{table}_owner",
        "queue",
        "owner_id",
        "id",
        postgresql_where=text("owner_id IS NOT NULL"),
    )


def _job_checks(statuses: tuple[TaskStatus, ...]) -> tuple[CheckConstraint, ...]:
    return (
        CheckConstraint(_in(statuses), name="status_known"),
        CheckConstraint("priority BETWEEN 0 AND 3", name="priority_known"),
        CheckConstraint(
            "payload IS NULL OR jsonb_typeof(payload) = 'object'", name="payload_object"
        ),
    )


class QueueJob(_JobColumns, Base):
    """A live queue job (waiting or leased): the engine's hot table, kept narrow.

    Only the indexes the claim, the rescuer, the lease actions, the dedupe and a member's
    job list need: each costs an entry per transition (the owner's only for jobs with an
    owner). Default fillfactor: no update of this table can be HOT on PostgreSQL 15,
    since each one changes an indexed column (the lease and a release change ``status``,
    a heartbeat ``lease_expires_at``), so free space kept on its pages would only make
    the table larger (counted: 0 of 8,300 lease, heartbeat and release updates were HOT
    at fillfactor 70 either).
    """

    __tablename__ = "queue_jobs"
    __table_args__ = (
        *_job_checks(LIVE_STATUSES),
        Index(
            "ix_queue_jobs_claim",
            "queue",
            text("priority DESC"),
            "run_at",
            "id",
            postgresql_where=text(_in(CLAIMABLE_STATUSES)),
        ),
        Index(
            "ix_queue_jobs_lease_expiry",
            "lease_expires_at",
            postgresql_where=text("status = 'in_progress'"),
        ),
        Index(
            "ix_queue_jobs_lease_id",
            "lease_id",
            unique=True,
            postgresql_where=text("lease_id IS NOT NULL"),
        ),
        Index(
            "ix_queue_jobs_dedupe",
            "queue",
            "dedupe_key",
            unique=True,
            postgresql_where=text(DEDUPE_PREDICATE),
        ),
        _owner_index("queue_jobs"),
    )


class QueueJobFinished(_JobColumns, Base):
    """A finished queue job (completed, cancelled, dead), kept until its queue's
    retention passes (``finished_at``: when it left ``queue_jobs``)."""

    __tablename__ = "queue_jobs_finished"
    __table_args__ = (
        *_job_checks(FINISHED_STATUSES),
        Index("ix_queue_jobs_finished_at", "finished_at"),
        # The dead-letter list, retry and bulk routes walk one queue's dead jobs.
        Index(
            "ix_queue_jobs_finished_dead",
            "queue",
            "finished_at",
            "id",
            postgresql_where=text("status = 'dead'"),
        ),
        # An admin's job list (``GET /queues/{q}/tasks``: one queue, newest first), which
        # would otherwise walk the primary key past every other queue's jobs; the live
        # table, as long as its backlog, has none (migration 0011 says why).
        Index("ix_queue_jobs_finished_queue", "queue", "id"),
        _owner_index("queue_jobs_finished"),
    )

    result: Mapped[Any | None] = mapped_column(JSONB)
    completed_at: Mapped[Timestamp | None]
    finished_at: Mapped[Timestamp]


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
    rate_refilled_at: Mapped[TimestampNow]
    created_at: Mapped[TimestampNow]
    updated_at: Mapped[TimestampNow]


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
    created_at: Mapped[TimestampNow]
    expires_at: Mapped[Timestamp]


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
    task_id: Mapped[UuidColumn]
    queue: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[UuidColumn | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    occurred_at: Mapped[TimestampNow]
    tx_id: Mapped[int] = mapped_column(XID8, server_default=text("pg_current_xact_id()"))
    #: The W3C trace context of the change, which consumers continue.
    traceparent: Mapped[str | None] = mapped_column(Text)


AUDIT_LOG = audit_table(Base.metadata)
