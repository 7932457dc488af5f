"""Request and response bodies of the queue engine and event feed."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

import taskplane_client.models as wire
from task_service.models import Priority
from taskplane_client.models import Request as _Body

WorkerId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=wire.NO_NUL)]


def _label(value: object) -> object:
    return Priority(value).label if isinstance(value, int) else value


class QueueConfig(wire.QueueConfig):
    """A queue's configuration; every field has the TaskQueue resource's default."""

    # The client's QueueConfig, refusing unknown settings (the client keeps them), and
    # the retention settings, which the operator and the client leave to their defaults.
    model_config = ConfigDict(extra="forbid")

    #: How long finished tasks are kept, in seconds (null: forever); then the cleaner
    #: deletes them.
    completed_retention_s: int | None = Field(86_400, ge=1, le=10 * 366 * 86_400)
    cancelled_retention_s: int | None = Field(7 * 86_400, ge=1, le=10 * 366 * 86_400)
    dead_retention_s: int | None = Field(30 * 86_400, ge=1, le=10 * 366 * 86_400)


QueueStats = wire.QueueStats


class Queue(wire.Queue):
    # The client's Queue, with the service's own QueueConfig (its retention settings).
    config: QueueConfig


QueueOut = Queue


class QueueList(BaseModel):
    items: list[QueueOut]


TaskEnqueue = wire.TaskEnqueue


class TaskBatch(_Body):
    tasks: list[TaskEnqueue] = Field(min_length=1)


# The client's QueuedTask, read from a stored row: the priority's small integer as its
# label, a null queue or payload as empty.
class QueuedTask(wire.QueuedTask):
    model_config = ConfigDict(from_attributes=True)

    @field_validator("priority", mode="before")
    @classmethod
    def _priority_label(cls, value: object) -> object:
        return _label(value)

    @field_validator("queue", mode="before")
    @classmethod
    def _queue_name(cls, value: object) -> object:
        return value or ""

    @field_validator("payload", mode="before")
    @classmethod
    def _payload_object(cls, value: object) -> object:
        return {} if value is None else value


QueuedTaskOut = QueuedTask


class EnqueueBatchOut(BaseModel):
    tasks: list[QueuedTaskOut]


class LeaseRequest(_Body):
    worker_id: WorkerId
    #: The service's ``max_lease_batch`` (100 by default) caps it.
    max_tasks: int = Field(1, ge=1, le=1000)
    wait_s: float = Field(0.0, ge=0)


# The client's LeasedTask, built from the engine's record.
class LeasedTask(wire.LeasedTask):
    @classmethod
    def from_leased(cls, task: Any, queue_max_attempts: int) -> LeasedTask:
        """From the engine's ``Leased`` record; a task without its own ``max_attempts``
        follows the queue's."""
        return cls.model_validate(
            {
                **{name: getattr(task, name) for name in cls.model_fields if hasattr(task, name)},
                "payload": task.payload or {},
                "priority": _label(task.priority),
                "attempt": task.attempts,
                "max_attempts": task.max_attempts or queue_max_attempts,
            }
        )


LeaseOut = wire.Lease


class LeaseAction(_Body):
    """Optional ``worker_id``: when given it must match the lease holder (else 409)."""

    worker_id: WorkerId | None = None


class CompleteRequest(LeaseAction):
    result: Any | None = None


class FailRequest(LeaseAction):
    error: Annotated[str, StringConstraints(max_length=20_000, pattern=wire.NO_NUL)] = ""
    retryable: bool = True


CompleteItem = wire.Completion


class CompleteBatchRequest(_Body):
    """Several leases at once (a worker whose tasks finished together); ``worker_id``,
    when given, must hold every one of them."""

    worker_id: WorkerId | None = None
    items: list[CompleteItem] = Field(min_length=1, max_length=1000)


HeartbeatOut = wire.HeartbeatResult


class HeartbeatBatchRequest(_Body):
    """Every lease a worker holds, extended in one request; ``worker_id``, when given,
    must hold each of them."""

    worker_id: WorkerId | None = None
    #: Each lease once (the service refuses a repeat with 422).
    lease_ids: list[wire.JsonUUID] = Field(
        min_length=1, max_length=1000, json_schema_extra={"uniqueItems": True}
    )


class HeartbeatBatchOut(BaseModel):
    #: The leases extended, in no particular order; a lease missing here is gone (the
    #: worker stops its task).
    items: list[HeartbeatOut]


LeaseResult = wire.LeaseResult
CompleteBatchResult = wire.CompletionResult


class CompleteBatchOut(BaseModel):
    #: One per request item, in request order.
    items: list[CompleteBatchResult]


EventOut = wire.Event
EventPage = wire.EventPage
