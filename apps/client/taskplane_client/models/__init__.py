"""Typed bodies of the taskplane API: what the client sends and what it gets back.

They mirror the task-service and auth-service schemas without importing them (the
client must not depend on server code). Request models check what the server checks,
so a bad value is reported before anything is sent (a bulk file names its bad line);
response models ignore fields they do not know, so a newer server does not break an
older client.

One module per resource (``tasks``, ``queues``, ``leases``, ``events``, ``auth``), the
shared bases and field types in ``base``; every name is importable from here.
"""

from taskplane_client.models.auth import (
    NAMESPACE_PATTERN,
    SERVICE_ACCOUNT_PATTERN,
    AccessToken,
    Identity,
    KubernetesTokenExchange,
    Namespace,
    Scope,
    ServiceAccountName,
    ServiceToken,
    ServiceTokenCreate,
    ServiceTokenCreated,
    TokenPair,
    WorkloadBinding,
    WorkloadBindingKey,
    WorkloadBindingPut,
)
from taskplane_client.models.base import (
    FINAL_STATUSES,
    MAX_TAGS,
    NO_NUL,
    NOT_BLANK,
    QUEUE_NAME_PATTERN,
    Description,
    JsonDatetime,
    JsonUUID,
    Omittable,
    Priority,
    QueueName,
    Request,
    Response,
    SettableStatus,
    Status,
    Tag,
    Tags,
    Title,
)
from taskplane_client.models.events import (
    EVENT_TYPES,
    Event,
    EventPage,
    EventType,
)
from taskplane_client.models.leases import (
    Completion,
    CompletionResult,
    HeartbeatResult,
    Lease,
    LeasedTask,
    LeaseResult,
)
from taskplane_client.models.problems import (
    Problem,
    ValidationIssue,
)
from taskplane_client.models.queues import (
    Queue,
    QueueConfig,
    QueuedTask,
    QueueStats,
    TaskEnqueue,
)
from taskplane_client.models.tasks import (
    QueueDetails,
    Task,
    TaskCreate,
    TaskPage,
    TaskStats,
    TaskUpdate,
)

__all__ = [
    "EVENT_TYPES",
    "FINAL_STATUSES",
    "MAX_TAGS",
    "NAMESPACE_PATTERN",
    "NOT_BLANK",
    "NO_NUL",
    "QUEUE_NAME_PATTERN",
    "SERVICE_ACCOUNT_PATTERN",
    "AccessToken",
    "Completion",
    "CompletionResult",
    "Description",
    "Event",
    "EventPage",
    "EventType",
    "HeartbeatResult",
    "Identity",
    "JsonDatetime",
    "JsonUUID",
    "KubernetesTokenExchange",
    "Lease",
    "LeaseResult",
    "LeasedTask",
    "Namespace",
    "Omittable",
    "Priority",
    "Problem",
    "Queue",
    "QueueConfig",
    "QueueDetails",
    "QueueName",
    "QueueStats",
    "QueuedTask",
    "Request",
    "Response",
    "Scope",
    "ServiceAccountName",
    "ServiceToken",
    "ServiceTokenCreate",
    "ServiceTokenCreated",
    "SettableStatus",
    "Status",
    "Tag",
    "Tags",
    "Task",
    "TaskCreate",
    "TaskEnqueue",
    "TaskPage",
    "TaskStats",
    "TaskUpdate",
    "Title",
    "TokenPair",
    "ValidationIssue",
    "WorkloadBinding",
    "WorkloadBindingKey",
    "WorkloadBindingPut",
]
