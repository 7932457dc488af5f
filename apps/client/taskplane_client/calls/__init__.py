"""Every API call, described once: path, body, how its answer is read, whether it is safe
to repeat. The sync and async clients send these descriptions; neither builds a request
of its own, and each function here is a method of both (:mod:`taskplane_client.api`), with
this signature. One module per resource; this package re-exports them all, so
``calls.X`` names every call."""

from taskplane_client.calls.auth import (
    create_service_token,
    delete_workload_binding,
    exchange_kubernetes_token,
    list_service_tokens,
    list_workload_bindings,
    login,
    logout,
    put_workload_binding,
    refresh,
    revoke_service_token,
)
from taskplane_client.calls.common import LONG_POLL_MARGIN_S
from taskplane_client.calls.events import events
from taskplane_client.calls.leases import (
    complete,
    complete_many,
    fail,
    heartbeat,
    heartbeat_many,
    lease,
    release,
)
from taskplane_client.calls.queues import (
    delete_queue,
    enqueue,
    enqueue_many,
    get_queue,
    list_dead,
    list_queues,
    put_queue,
    queue_tasks,
    retry_dead,
)
from taskplane_client.calls.tasks import (
    TaskFilter,
    cancel_task,
    create_task,
    delete_task,
    get_task,
    health,
    list_tasks,
    task_stats,
    update_task,
)

__all__ = [
    "LONG_POLL_MARGIN_S",
    "TaskFilter",
    "cancel_task",
    "complete",
    "complete_many",
    "create_service_token",
    "create_task",
    "delete_queue",
    "delete_task",
    "delete_workload_binding",
    "enqueue",
    "enqueue_many",
    "events",
    "exchange_kubernetes_token",
    "fail",
    "get_queue",
    "get_task",
    "health",
    "heartbeat",
    "heartbeat_many",
    "lease",
    "list_dead",
    "list_queues",
    "list_service_tokens",
    "list_tasks",
    "list_workload_bindings",
    "login",
    "logout",
    "put_queue",
    "put_workload_binding",
    "queue_tasks",
    "refresh",
    "release",
    "retry_dead",
    "revoke_service_token",
    "task_stats",
    "update_task",
]
