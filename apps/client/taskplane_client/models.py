"""Typed bodies of the taskplane API: what the client sends and what it gets back.

They mirror the task-service and auth-service schemas without importing them (the
client must not depend on server code). Request models check what the server checks,
so a bad value is reported before anything is sent (a bulk file names its bad line);
response models ignore fields they do not know, so a newer server does not break an
older client.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

Priority = Literal["low", "medium", "high", "critical"]
#: Statuses a person may set on a task; the queue engine owns the others.
SettableStatus = Literal["pending", "in_progress", "completed", "cancelled"]
Status = Literal[
    "pending", "scheduled", "in_progress", "retrying", "completed", "dead", "cancelled"
]
#: Statuses after which a task never changes again.
FINAL_STATUSES: frozenset[str] = frozenset({"completed", "dead", "cancelled"})
QUEUE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
QueueName = Annotated[str, StringConstraints(pattern=QUEUE_NAME_PATTERN)]


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("must not be blank")
    return value


Title = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_not_blank)
]
Description = Annotated[str, StringConstraints(max_length=2000)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Tags = Annotated[list[Tag], Field(max_length=10)]


class Request(BaseModel):
    """A request body: unknown fields are refused, as the server does."""

    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    """A response body: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


# ----------------------------------------------------------------------------- tasks


class TaskCreate(Request):
    title: Title
    description: Description | None = None
    status: SettableStatus = "pending"
    priority: Priority = "medium"
    due_at: AwareDatetime | None = None
    tags: Tags = Field(default_factory=list)
    assignee_id: uuid.UUID | None = None


class TaskUpdate(Request):
    """Only the fields given are sent (``None`` given explicitly clears a field)."""

    title: Title | None = None
    description: Description | None = None
    status: SettableStatus | None = None
    priority: Priority | None = None
    due_at: AwareDatetime | None = None
    tags: Tags | None = None
    assignee_id: uuid.UUID | None = None


class QueueDetails(Response):
    name: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int | None
    run_at: datetime | None
    timeout_s: int | None
    dedupe_key: str | None
    last_error: str | None
    result: Any | None


class Task(Response):
    id: uuid.UUID
    title: str
    description: str | None
    status: Status
    priority: Priority
    due_at: datetime | None
    tags: list[str]
    assignee_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    queue: QueueDetails | None = None

    @property
    def etag(self) -> str:
        """The ``ETag`` of this version, for ``If-Match``."""
        return f'"{self.version}"'


class TaskPage(Response):
    items: list[Task]
    next_cursor: str | None


class TaskStats(Response):
    total: int
    by_status: dict[str, int]
    by_priority: dict[str, int]
    overdue: int


# ----------------------------------------------------------------------------- queues


class QueueConfig(Request):
    """A queue's configuration; every field has the TaskQueue resource's default.

    Settings this client does not know (from a newer server) are kept rather than
    refused, so reading a queue and putting it back changes only what the caller set.
    """

    model_config = ConfigDict(extra="allow")

    max_attempts: int = Field(5, ge=1, le=1000)
    visibility_timeout_s: int = Field(60, ge=1, le=86_400)
    backoff_base_s: float = Field(2.0, ge=0, le=86_400)
    backoff_max_s: float = Field(300.0, ge=0, le=7 * 86_400)
    paused: bool = False
    rate_limit_per_s: float | None = Field(None, gt=0, le=100_000)
    max_in_flight: int | None = Field(None, ge=1, le=1_000_000)


class QueueStats(Response):
    """Depth and totals of a queue (zeros for a field an older server does not send)."""

    available: int = 0
    scheduled: int = 0
    in_flight: int = 0
    retrying: int = 0
    dead: int = 0
    oldest_available_age_s: float | None = None
    completed_total: int = 0
    failed_total: int = 0

    @property
    def pending(self) -> int:
        """Tasks not finished yet (available, scheduled, in flight or retrying)."""
        return self.available + self.scheduled + self.in_flight + self.retrying


class Queue(QueueStats):
    name: str
    config: QueueConfig


class TaskEnqueue(Request):
    payload: dict[str, Any] = Field(default_factory=dict)
    priority: Priority = "medium"
    run_at: AwareDatetime | None = None
    delay_s: float | None = Field(None, ge=0, le=366 * 86_400)
    max_attempts: int | None = Field(None, ge=1, le=1000)
    dedupe_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    timeout_s: int | None = Field(None, ge=1, le=86_400)
    title: Title | None = None

    @model_validator(mode="after")
    def _one_schedule(self) -> TaskEnqueue:
        if self.run_at is not None and self.delay_s is not None:
            raise ValueError("give run_at or delay_s, not both")
        return self


class QueuedTask(Response):
    id: uuid.UUID
    queue: str
    title: str
    status: Status
    priority: Priority
    payload: dict[str, Any]
    attempts: int
    max_attempts: int | None
    run_at: datetime | None
    timeout_s: int | None
    dedupe_key: str | None
    last_error: str | None
    result: Any | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    #: True when ``dedupe_key`` matched a live task, which is returned instead.
    deduplicated: bool = False


# ----------------------------------------------------------------------------- leases


class LeasedTask(Response):
    id: uuid.UUID
    queue: str
    title: str
    payload: dict[str, Any]
    priority: Priority
    attempt: int
    max_attempts: int
    timeout_s: int | None
    lease_id: uuid.UUID
    lease_expires_at: datetime
    traceparent: str | None
    created_at: datetime
    #: The queue's visibility timeout when leased (copied from the lease answer):
    #: heartbeats go well within it.
    visibility_timeout_s: float = 60.0


class Lease(Response):
    tasks: list[LeasedTask]
    visibility_timeout_s: int

    @model_validator(mode="after")
    def _tasks_know_their_timeout(self) -> Lease:
        for task in self.tasks:
            task.visibility_timeout_s = float(self.visibility_timeout_s)
        return self


class HeartbeatResult(Response):
    lease_id: uuid.UUID
    lease_expires_at: datetime


class LeaseResult(Response):
    id: uuid.UUID
    status: Status
    attempts: int
    run_at: datetime | None


class Completion(Request):
    lease_id: uuid.UUID
    result: Any | None = None


class CompletionResult(Response):
    lease_id: uuid.UUID
    #: False: the lease was unknown, expired or another worker's; nothing changed.
    completed: bool
    task: LeaseResult | None = None


# ----------------------------------------------------------------------------- events


class Event(Response):
    id: int
    type: str
    task_id: uuid.UUID
    queue: str | None
    owner_id: uuid.UUID | None
    data: dict[str, Any]
    occurred_at: datetime
    #: Pass as ``after`` to resume right after this event.
    cursor: str


class EventPage(Response):
    items: list[Event]
    next_cursor: str


# ----------------------------------------------------------------------------- auth

Scope = Literal[
    "queues:work", "queues:admin", "events:read", "users:read", "workload-bindings:write"
]


class TokenPair(Response):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int


class AccessToken(Response):
    access_token: str
    expires_in: int


class ServiceTokenCreate(Request):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=5)]
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class ServiceToken(Response):
    id: uuid.UUID
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ServiceTokenCreated(ServiceToken):
    #: The secret, shown once.
    token: str


class KubernetesTokenExchange(Request):
    """A pod's projected ServiceAccount token (audience ``taskplane``) to exchange."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=16_384)]


#: A namespace is a DNS label; a ServiceAccount name a DNS subdomain.
Namespace = Annotated[
    str, StringConstraints(max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
]
ServiceAccountName = Annotated[
    str,
    StringConstraints(
        max_length=253, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ),
]


class WorkloadBindingKey(Request):
    """Which ServiceAccount a binding is for (checked before the path is built)."""

    namespace: Namespace
    service_account: ServiceAccountName

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.service_account}"


class WorkloadBindingPut(Request):
    queue: QueueName


class WorkloadBinding(Response):
    """A Kubernetes ServiceAccount allowed to work one queue."""

    namespace: str
    service_account: str
    queue: str
    #: The ServiceAccount's uid the binding accepts (None until its first exchange).
    service_account_uid: str | None = None
    created_at: datetime
    updated_at: datetime


class Identity(Response):
    """What an access token says about its holder (read locally, not verified)."""

    sub: str
    roles: list[str] = Field(default_factory=list)
    scope: str = ""
    exp: int | None = None
    email: str | None = None
    #: A Kubernetes worker's token works this one queue only.
    taskplane_queue: str | None = None
