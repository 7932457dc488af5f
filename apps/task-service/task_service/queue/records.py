"""Typed records of the engine's result rows.

Statements select exactly the fields of a record (``columns``), and rows become records
by column name (``record``), so a statement and its record cannot drift apart. Queued
tasks go straight to their API shape, ``QueuedTaskOut``, the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from task_service.queue.schemas import QueuedTaskOut

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


def columns(record: type[DataclassInstance], table: str | None = None) -> str:
    """The select list of ``record``'s fields (qualified by ``table`` when given)."""
    prefix = f"{table}." if table else ""
    return ", ".join(f"{prefix}{field.name}" for field in fields(record))


def record(kind: type[R], row: Mapping[str, Any]) -> R:
    """``row`` as a ``kind``, taking each field by its column name."""
    return kind(**{field.name: row[field.name] for field in fields(kind)})


#: The stored columns a queued task is shown with: the fields of ``QueuedTaskOut``.
QUEUED_TASK_COLUMNS = tuple(name for name in QueuedTaskOut.model_fields if name != "deduplicated")


#: What a live job (``tasks.queue_jobs``) shows for the columns it does not have yet.
_NOT_YET = {"result": "CAST(NULL AS jsonb)", "completed_at": "CAST(NULL AS timestamptz)"}


def queued_columns(table: str | None = None, *, live: bool = False) -> str:
    """The select list of ``QUEUED_TASK_COLUMNS`` (of a live job's row when ``live``)."""
    prefix = f"{table}." if table else ""
    missing = _NOT_YET if live else {}
    return ", ".join(
        f"{missing[name]} AS {name}" if name in missing else f"{prefix}{name}"
        for name in QUEUED_TASK_COLUMNS
    )


def queued_task(row: Mapping[str, Any]) -> QueuedTaskOut:
    """``row`` (selected with ``queued_columns``) as the API shows it."""
    return QueuedTaskOut.model_validate({name: row[name] for name in QUEUED_TASK_COLUMNS})


@dataclass(slots=True)
class Leased:
    """A task just leased: what the worker gets (``LeasedTask``) and the metrics need."""

    id: uuid.UUID
    queue: str
    title: str
    payload: dict[str, Any] | None
    priority: int
    attempts: int
    max_attempts: int | None
    timeout_s: int | None
    lease_id: uuid.UUID
    lease_expires_at: datetime
    traceparent: str | None
    created_at: datetime
    run_at: datetime
    leased_at: datetime


@dataclass(slots=True)
class LeaseGate:
    """The queue's side of a lease: its configuration and whether a lease expired."""

    visibility_timeout_s: int
    queue_max_attempts: int
    paused: bool
    limited: bool
    expired: bool


@dataclass(slots=True)
class QueueLimits:
    """A limited queue's row, locked for a lease: its limits and token bucket."""

    paused: bool
    max_in_flight: int | None
    rate_limit_per_s: float | None
    rate_tokens: float
    rate_refilled_at: datetime
    now: datetime


@dataclass(slots=True)
class LeaseOutcome:
    """A task after a lease action (what ``LeaseResult`` and the metrics need)."""

    id: uuid.UUID
    queue: str | None
    status: str
    attempts: int
    run_at: datetime | None
    leased_at: datetime | None
    lease_expires_at: datetime | None


@dataclass(slots=True)
class Completed(LeaseOutcome):
    """A completion of a batch, with the lease it was asked for."""

    lease: uuid.UUID
