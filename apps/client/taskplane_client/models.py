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
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    StringConstraints,
    model_validator,
)

_T = TypeVar("_T")


def _refuse_null(value: object) -> object:
    if value is None:
        raise ValueError("may be omitted but not null")
    return value


def _without_null(schema: dict[str, Any]) -> None:
    """The field's JSON schema without the ``null`` alternative and ``default: null``."""
    schema.pop("default", None)
    alternatives = [s for s in schema.pop("anyOf", []) if s != {"type": "null"}]
    if len(alternatives) == 1:
        schema.update(alternatives[0])
    elif alternatives:
        schema["anyOf"] = alternatives


#: A field of a partial update that may be left out but not sent as ``null`` (a field
#: that cannot be empty): ``None`` in Python means "not given".
Omittable = Annotated[
    _T | None, BeforeValidator(_refuse_null), Field(json_schema_extra=_without_null)
]

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


def _dedupe_tags(tags: list[str]) -> list[str]:
    """Keep the first spelling of each tag, comparing case-insensitively."""
    seen: set[str] = set()
    unique: list[str] = []
    for tag in tags:
        folded = tag.casefold()
        if folded not in seen:
            seen.add(folded)
            unique.append(tag)
    return unique


MAX_TAGS = 10


def _not_blank(value: object) -> object:
    """Says why before the pattern would (same rule, a clearer message)."""
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be blank")
    return value


#: Some character that is not white space (``str.strip`` also removes \x1c-\x1f, which
#: the JSON Schema ``\s`` does not cover). Lengths are checked before the value is
#: trimmed, so what the document allows is exactly what is accepted.
#: PostgreSQL text cannot hold U+0000, so no text field takes it.
NOT_BLANK = r"^[^\x00]*[^\s\x00\x1c-\x1f][^\x00]*$"
NO_NUL = r"^[^\x00]*$"
Title = Annotated[
    str,
    StringConstraints(max_length=200, pattern=NOT_BLANK),
    BeforeValidator(_not_blank),
    AfterValidator(str.strip),
]
Description = Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]
Tag = Annotated[str, StringConstraints(max_length=50, pattern=NOT_BLANK), AfterValidator(str.strip)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_dedupe_tags)]


class Request(BaseModel):
    """A request body: unknown fields are refused, and JSON types are not coerced (``"5"``
    is no number, ``1`` no boolean), as the server does: the body must match the
    document's schema, not merely be convertible to it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_numbers(cls, data: Any) -> Any:
        """JSON Schema's ``integer`` includes ``1.0``, which strict mode would refuse."""
        if not isinstance(data, dict):
            return data
        integers = _integer_fields(cls)
        return {
            name: int(value)
            if name in integers and isinstance(value, float) and value.is_integer()
            else value
            for name, value in data.items()
        }


def _integer_fields(model: type[BaseModel]) -> frozenset[str]:
    def bare(annotation: Any) -> Any:
        return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation

    return frozenset(
        name
        for name, field in model.model_fields.items()
        if field.annotation is int
        or {bare(arg) for arg in get_args(field.annotation)} == {int, type(None)}
    )


def _json_text(value: object) -> object:
    """A date-time or id arrives as a JSON string (or, from Python, as the object)."""
    if isinstance(value, int | float | bool):
        raise ValueError("must be a string")
    return value


#: Read from JSON strings (strict mode would want Python objects; lax mode would also
#: take a number as a Unix time).
JsonUUID = Annotated[uuid.UUID, Strict(False), BeforeValidator(_json_text)]
JsonDatetime = Annotated[AwareDatetime, Strict(False), BeforeValidator(_json_text)]


class Response(BaseModel):
    """A response body: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


# ----------------------------------------------------------------------------- errors


class ValidationIssue(Response):
    """One reason a request was refused: where (``loc``) and why."""

    loc: list[str]
    msg: str
    type: str


class Problem(Response):
    """RFC 9457 problem details: the body of every error answer of every service.

    Members beyond these are extensions of a particular problem type (``errors`` of a
    validation error, ``checks`` of a failed readiness check, ...).
    """

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem")
    title: str
    status: Annotated[int, Field(ge=400, le=599)]
    detail: str
    instance: str | None = Field(None, description="The path of the request")
    errors: list[ValidationIssue] | None = Field(None, description="Validation errors")


# ----------------------------------------------------------------------------- tasks


class TaskCreate(Request):
    title: Title
    description: Description | None = None
    status: SettableStatus = "pending"
    priority: Priority = "medium"
    due_at: JsonDatetime | None = None
    tags: Tags = Field(default_factory=list)
    assignee_id: JsonUUID | None = None


class TaskUpdate(Request):
    """Only the fields given are sent (``None`` given explicitly clears a field).

    ``title``, ``status`` and ``priority`` cannot be cleared: ``null`` is refused.
    """

    title: Omittable[Title] = None
    description: Description | None = None
    status: Omittable[SettableStatus] = None
    priority: Omittable[Priority] = None
    due_at: JsonDatetime | None = None
    tags: Tags | None = None
    assignee_id: JsonUUID | None = None


class QueueDetails(Response):
    """How a queued task is doing; ``null`` on tasks that are not in a queue."""

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
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class TaskStats(Response):
    total: int
    by_status: dict[str, int]
    by_priority: dict[str, int]
    overdue: int


# ----------------------------------------------------------------------------- queues


# Settings this client does not know (from a newer server) are kept rather than refused,
# so reading a queue and putting it back changes only what the caller set; the
# task-service's QueueConfig refuses them.
class QueueConfig(Request):
    """A queue's configuration; every field has the TaskQueue resource's default."""

    model_config = ConfigDict(extra="allow")

    max_attempts: int = Field(5, ge=1, le=1000)
    visibility_timeout_s: int = Field(60, ge=1, le=86_400)
    backoff_base_s: float = Field(2.0, ge=0, le=86_400)
    backoff_max_s: float = Field(300.0, ge=0, le=7 * 86_400)
    paused: bool = False
    rate_limit_per_s: float | None = Field(None, gt=0, le=100_000)
    max_in_flight: int | None = Field(None, ge=1, le=1_000_000)


class QueueStats(Response):
    """Depth and totals of a queue."""

    available: int
    scheduled: int
    in_flight: int
    retrying: int
    dead: int
    oldest_available_age_s: float
    completed_total: int
    failed_total: int

    @property
    def pending(self) -> int:
        """Tasks not finished yet (available, scheduled, in flight or retrying)."""
        return self.available + self.scheduled + self.in_flight + self.retrying


class Queue(QueueStats):
    name: str
    config: QueueConfig


#: JSON Schema for "``run_at`` and ``delay_s`` both given, neither null".
_BOTH_SCHEDULES: dict[str, Any] = {
    "required": ["run_at", "delay_s"],
    "properties": {
        "run_at": {"not": {"type": "null"}},
        "delay_s": {"not": {"type": "null"}},
    },
}


class TaskEnqueue(Request):
    """A task for a queue; ``run_at`` and ``delay_s`` exclude each other."""

    model_config = ConfigDict(json_schema_extra={"not": _BOTH_SCHEDULES})

    payload: dict[str, Any] = Field(default_factory=dict)
    priority: Priority = "medium"
    run_at: JsonDatetime | None = None
    delay_s: float | None = Field(None, ge=0, le=366 * 86_400)
    max_attempts: int | None = Field(None, ge=1, le=1000)
    dedupe_key: (
        Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)] | None
    ) = None
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
    #: The queue's visibility timeout when leased (copied from the lease answer, not
    #: part of the task's wire shape): heartbeats go well within it.
    _visibility_timeout_s: float = PrivateAttr(60.0)

    @property
    def visibility_timeout_s(self) -> float:
        return self._visibility_timeout_s


class Lease(Response):
    tasks: list[LeasedTask]
    visibility_timeout_s: int

    @model_validator(mode="after")
    def _tasks_know_their_timeout(self) -> Lease:
        for task in self.tasks:
            task._visibility_timeout_s = float(self.visibility_timeout_s)
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
    lease_id: JsonUUID
    result: Any | None = None


class CompletionResult(Response):
    lease_id: uuid.UUID
    #: False: the lease was unknown, expired or another worker's; nothing changed.
    completed: bool
    task: LeaseResult | None = None


# ----------------------------------------------------------------------------- events

#: The types of the task-service's event feed: what webhooks subscribe to and what
#: notification preferences are set for.
EventType = Literal[
    "task.created",
    "task.updated",
    "task.assigned",
    "task.completed",
    "task.failed",
    "task.dead",
    "task.cancelled",
    "task.deleted",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)


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
    #: The W3C trace context of the change (for a queue task: its enqueue's), so a
    #: consumer continues that trace; None for changes made outside any trace.
    traceparent: str | None = None


class EventPage(Response):
    items: list[Event]
    #: Pass as ``after`` for the next call (unchanged when nothing new arrived).
    next_cursor: str


# ----------------------------------------------------------------------------- auth

Scope = Literal[
    "queues:work", "queues:admin", "events:read", "users:read", "workload-bindings:write"
]


class AccessToken(Response):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int


class TokenPair(AccessToken):
    refresh_token: str


class ServiceTokenCreate(Request):
    name: Annotated[
        str, StringConstraints(max_length=100, pattern=NOT_BLANK), AfterValidator(str.strip)
    ]
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
    token: str = Field(description="Shown once; exchange it at /api/v1/auth/service-token")


class KubernetesTokenExchange(Request):
    """A pod's projected ServiceAccount token (audience ``taskplane``) to exchange."""

    token: Annotated[
        str,
        Field(
            min_length=1,
            max_length=16_384,
            description="The pod's projected ServiceAccount token (audience taskplane)",
        ),
    ]


#: A namespace is a DNS label; a ServiceAccount name a DNS subdomain.
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
SERVICE_ACCOUNT_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
Namespace = Annotated[str, StringConstraints(max_length=63, pattern=NAMESPACE_PATTERN)]
ServiceAccountName = Annotated[
    str, StringConstraints(max_length=253, pattern=SERVICE_ACCOUNT_PATTERN)
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
    #: The ServiceAccount's ``metadata.uid``. Omitted: a new binding records the uid of the
    #: first token exchanged, an existing one keeps the uid it has.
    service_account_uid: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = (
        None
    )


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
