"""taskplane_client: the typed sync and async Python client of the taskplane API.

>>> from taskplane_client import TaskplaneClient, TaskEnqueue
>>> with TaskplaneClient("http://localhost:8003", token=...) as client:  # doctest: +SKIP
...     task = client.enqueue("default", TaskEnqueue(payload={"hello": "world"}))
"""

from taskplane_client.async_client import AsyncTaskplaneClient
from taskplane_client.auth import ServiceTokenAuth, SessionAuth, auth_for, identity
from taskplane_client.calls import TaskFilter
from taskplane_client.errors import (
    ApiError,
    BadResponseError,
    ConflictError,
    ConnectionFailedError,
    ForbiddenError,
    LeaseLostError,
    LoginExpiredError,
    NotFoundError,
    PreconditionFailedError,
    RateLimitedError,
    ServiceUnavailableError,
    TaskplaneError,
    TokenExchangeError,
    UnauthorizedError,
    ValidationFailedError,
)
from taskplane_client.models import (
    FINAL_STATUSES,
    Completion,
    CompletionResult,
    Event,
    EventPage,
    Identity,
    Lease,
    LeasedTask,
    LeaseResult,
    Queue,
    QueueConfig,
    QueuedTask,
    QueueStats,
    ServiceToken,
    ServiceTokenCreate,
    ServiceTokenCreated,
    Task,
    TaskCreate,
    TaskEnqueue,
    TaskPage,
    TaskStats,
    TaskUpdate,
    TokenPair,
)
from taskplane_client.stream import LeaseStream
from taskplane_client.sync_client import TaskplaneClient
from taskplane_client.transport import NO_RETRY, RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "FINAL_STATUSES",
    "NO_RETRY",
    "ApiError",
    "AsyncTaskplaneClient",
    "BadResponseError",
    "Completion",
    "CompletionResult",
    "ConflictError",
    "ConnectionFailedError",
    "Event",
    "EventPage",
    "ForbiddenError",
    "Identity",
    "Lease",
    "LeaseLostError",
    "LeaseResult",
    "LeaseStream",
    "LeasedTask",
    "LoginExpiredError",
    "NotFoundError",
    "PreconditionFailedError",
    "Queue",
    "QueueConfig",
    "QueueStats",
    "QueuedTask",
    "RateLimitedError",
    "RetryPolicy",
    "ServiceToken",
    "ServiceTokenAuth",
    "ServiceTokenCreate",
    "ServiceTokenCreated",
    "ServiceUnavailableError",
    "SessionAuth",
    "Task",
    "TaskCreate",
    "TaskEnqueue",
    "TaskFilter",
    "TaskPage",
    "TaskStats",
    "TaskUpdate",
    "TaskplaneClient",
    "TaskplaneError",
    "TokenExchangeError",
    "TokenPair",
    "UnauthorizedError",
    "ValidationFailedError",
    "auth_for",
    "identity",
]
