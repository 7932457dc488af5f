"""Every API call, described once: path, body, how its answer is read, whether it is safe
to repeat. The sync and async clients send these descriptions; neither builds a request
of its own, and each function here is a method of both (:mod:`taskplane_client.api`), with
this signature."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from taskplane_client.auth import KUBERNETES_EXCHANGE_PATH, LOGIN_PATH, LOGOUT_PATH, REFRESH_PATH
from taskplane_client.models import (
    AccessToken,
    Completion,
    CompletionResult,
    EventPage,
    HeartbeatResult,
    KubernetesTokenExchange,
    Lease,
    LeasedTask,
    LeaseResult,
    Queue,
    QueueConfig,
    QueuedTask,
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
    WorkloadBinding,
    WorkloadBindingKey,
    WorkloadBindingPut,
)
from taskplane_client.transport import Call, body_of, model, nothing

#: Extra read time for a long-poll beyond the wait it asks the server for.
LONG_POLL_MARGIN_S = 15.0
TASKS = "/api/v1/tasks"
QUEUES = "/api/v1/queues"
LEASES = "/api/v1/leases"


def _queue(name: str) -> str:
    return f"{QUEUES}/{quote(name, safe='')}"


def health() -> Call[None]:
    """``GET /healthz``: the task-service process answers (no token needed)."""
    return Call("health", "GET", "/healthz", nothing, idempotent=True, authenticated=False)


# ----------------------------------------------------------------------------- tasks


def create_task(task: TaskCreate, *, idempotency_key: str | None = None) -> Call[Task]:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    return Call(
        "create_task",
        "POST",
        TASKS,
        model(Task),
        json=body_of(task),
        headers=headers,
        idempotent=idempotency_key is not None,
    )


@dataclasses.dataclass(frozen=True)
class TaskFilter:
    """Filters of ``GET /api/v1/tasks`` (repeated values are OR-ed; tags must all match)."""

    status: Sequence[str] = ()
    priority: Sequence[str] = ()
    tag: Sequence[str] = ()
    assignee: str | None = None
    q: str | None = None
    sort: str | None = None


def list_tasks(
    filters: TaskFilter | None = None, *, limit: int | None = None, cursor: str | None = None
) -> Call[TaskPage]:
    """One page of the tasks ``filters`` match (all of them without filters)."""
    f = filters or TaskFilter()
    params = [("status", s) for s in f.status] + [("priority", p) for p in f.priority]
    params += [("tag", t) for t in f.tag]
    for key, value in (("assignee", f.assignee), ("q", f.q), ("sort", f.sort), ("cursor", cursor)):
        if value is not None:
            params.append((key, value))
    if limit is not None:
        params.append(("limit", str(limit)))
    return Call("list_tasks", "GET", TASKS, model(TaskPage), params=params, idempotent=True)


def get_task(task_id: uuid.UUID | str) -> Call[Task]:
    return Call("get_task", "GET", f"{TASKS}/{task_id}", model(Task), idempotent=True)


def update_task(
    task_id: uuid.UUID | str, change: TaskUpdate, *, if_match: str | None = None
) -> Call[Task]:
    return Call(
        "update_task",
        "PATCH",
        f"{TASKS}/{task_id}",
        model(Task),
        json=body_of(change, only_set=True),
        headers={"If-Match": if_match} if if_match else {},
        idempotent=True,
    )


def delete_task(task_id: uuid.UUID | str, *, if_match: str | None = None) -> Call[None]:
    headers = {"If-Match": if_match} if if_match else {}
    return Call(
        "delete_task", "DELETE", f"{TASKS}/{task_id}", nothing, headers=headers, idempotent=True
    )


def task_stats() -> Call[TaskStats]:
    return Call("task_stats", "GET", f"{TASKS}/stats", model(TaskStats), idempotent=True)


def cancel_task(task_id: uuid.UUID | str) -> Call[QueuedTask]:
    return Call(
        "cancel_task", "POST", f"{TASKS}/{task_id}/cancel", model(QueuedTask), idempotent=True
    )


# ----------------------------------------------------------------------------- queues


def list_queues() -> Call[list[Queue]]:
    return Call("list_queues", "GET", QUEUES, model(list[Queue], "items"), idempotent=True)


def get_queue(name: str) -> Call[Queue]:
    return Call("get_queue", "GET", _queue(name), model(Queue), idempotent=True)


def put_queue(name: str, config: QueueConfig) -> Call[Queue]:
    return Call(
        "put_queue", "PUT", _queue(name), model(Queue), json=body_of(config), idempotent=True
    )


def delete_queue(name: str, *, force: bool = False) -> Call[None]:
    params = [("force", "true")] if force else []
    return Call("delete_queue", "DELETE", _queue(name), nothing, params=params, idempotent=True)


def enqueue(queue: str, task: TaskEnqueue) -> Call[QueuedTask]:
    """One task; a ``dedupe_key`` makes a repeat harmless, so it may be retried."""
    return Call(
        "enqueue",
        "POST",
        f"{_queue(queue)}/tasks",
        model(QueuedTask),
        json=body_of(task),
        idempotent=task.dedupe_key is not None,
    )


def enqueue_many(queue: str, tasks: Iterable[TaskEnqueue]) -> Call[list[QueuedTask]]:
    """Several tasks in one transaction: all are queued or none."""
    body = [body_of(task) for task in tasks]
    return Call(
        "enqueue_many",
        "POST",
        f"{_queue(queue)}/tasks",
        model(list[QueuedTask], "tasks"),
        json={"tasks": body},
        idempotent=all(item.get("dedupe_key") for item in body),
    )


def list_dead(queue: str, *, limit: int = 100) -> Call[list[QueuedTask]]:
    return Call(
        "list_dead",
        "GET",
        f"{_queue(queue)}/dead",
        model(list[QueuedTask]),
        params=[("limit", str(limit))],
        idempotent=True,
    )


def retry_dead(queue: str, task_id: uuid.UUID | str) -> Call[QueuedTask]:
    return Call("retry_dead", "POST", f"{_queue(queue)}/dead/{task_id}/retry", model(QueuedTask))


# ----------------------------------------------------------------------------- leases


def lease(queue: str, worker_id: str, *, max_tasks: int = 1, wait_s: float = 0.0) -> Call[Lease]:
    """Long-polls up to ``wait_s``; a lease granted to a connection that then broke
    simply expires, so the call is safe to repeat."""
    return Call(
        "lease",
        "POST",
        f"{_queue(queue)}/leases",
        model(Lease),
        json={"worker_id": worker_id, "max_tasks": max_tasks, "wait_s": wait_s},
        idempotent=True,
        timeout_s=wait_s + LONG_POLL_MARGIN_S,
    )


def _lease_action(action: str, task: LeasedTask, body: dict[str, Any]) -> Call[LeaseResult]:
    return Call(
        action,
        "POST",
        f"{LEASES}/{task.lease_id}/{action}",
        model(LeaseResult),
        json=body,
        idempotent=True,
        lease_call=True,
    )


def heartbeat(task: LeasedTask, worker_id: str | None = None) -> Call[HeartbeatResult]:
    return _lease_action("heartbeat", task, {"worker_id": worker_id}).reading(
        model(HeartbeatResult)
    )


def _extended(response: httpx.Response) -> set[uuid.UUID]:
    return {uuid.UUID(item["lease_id"]) for item in response.json()["items"]}


def heartbeat_many(
    lease_ids: Iterable[uuid.UUID], worker_id: str | None = None
) -> Call[set[uuid.UUID]]:
    """Extend every lease a worker holds in one request: the ids extended (any other is
    gone)."""
    return Call(
        "heartbeat_many",
        "POST",
        f"{LEASES}/heartbeat",
        _extended,
        json={"worker_id": worker_id, "lease_ids": [str(lease_id) for lease_id in lease_ids]},
        idempotent=True,
        lease_call=True,
    )


def complete(
    task: LeasedTask, result: Any = None, worker_id: str | None = None
) -> Call[LeaseResult]:
    return _lease_action("complete", task, {"worker_id": worker_id, "result": result})


def fail(
    task: LeasedTask, error: str, *, retryable: bool = True, worker_id: str | None = None
) -> Call[LeaseResult]:
    body = {"worker_id": worker_id, "error": error, "retryable": retryable}
    return _lease_action("fail", task, body)


def release(task: LeasedTask, worker_id: str | None = None) -> Call[LeaseResult]:
    return _lease_action("release", task, {"worker_id": worker_id})


def complete_many(
    items: Sequence[Completion], worker_id: str | None = None
) -> Call[list[CompletionResult]]:
    """Several leases at once; each item says whether it completed."""
    return Call(
        "complete_many",
        "POST",
        f"{LEASES}/complete",
        model(list[CompletionResult], "items"),
        json={"worker_id": worker_id, "items": [body_of(item) for item in items]},
        idempotent=True,
        lease_call=True,
    )


# ----------------------------------------------------------------------------- events


def events(after: str | None = None, *, wait_s: float = 0.0, limit: int = 100) -> Call[EventPage]:
    params = [("wait_s", str(wait_s)), ("limit", str(limit))]
    if after is not None:
        params.append(("after", after))
    return Call(
        "events",
        "GET",
        "/api/v1/events",
        model(EventPage),
        params=params,
        idempotent=True,
        timeout_s=wait_s + LONG_POLL_MARGIN_S,
    )


# ----------------------------------------------------------------------------- auth


def login(email: str, password: str) -> Call[TokenPair]:
    return Call(
        "login",
        "POST",
        LOGIN_PATH,
        model(TokenPair),
        service="auth",
        data={"username": email, "password": password},
        authenticated=False,
    )


def refresh(refresh_token: str) -> Call[TokenPair]:
    return Call(
        "refresh",
        "POST",
        REFRESH_PATH,
        model(TokenPair),
        service="auth",
        json={"refresh_token": refresh_token},
        authenticated=False,
    )


def logout(refresh_token: str) -> Call[None]:
    return Call(
        "logout",
        "POST",
        LOGOUT_PATH,
        nothing,
        service="auth",
        json={"refresh_token": refresh_token},
        authenticated=False,
        idempotent=True,
    )


SERVICE_TOKENS = "/api/v1/admin/service-tokens"


def create_service_token(body: ServiceTokenCreate) -> Call[ServiceTokenCreated]:
    return Call(
        "create_service_token",
        "POST",
        SERVICE_TOKENS,
        model(ServiceTokenCreated),
        service="auth",
        json=body_of(body),
    )


def list_service_tokens() -> Call[list[ServiceToken]]:
    return Call(
        "list_service_tokens",
        "GET",
        SERVICE_TOKENS,
        model(list[ServiceToken]),
        service="auth",
        idempotent=True,
    )


def revoke_service_token(token_id: uuid.UUID | str) -> Call[None]:
    return Call(
        "revoke_service_token",
        "DELETE",
        f"{SERVICE_TOKENS}/{token_id}",
        nothing,
        service="auth",
        idempotent=True,
    )


def exchange_kubernetes_token(token: str) -> Call[AccessToken]:
    """A pod's projected ServiceAccount token for a short-lived access token."""
    return Call(
        "exchange_kubernetes_token",
        "POST",
        KUBERNETES_EXCHANGE_PATH,
        model(AccessToken),
        service="auth",
        json=body_of(KubernetesTokenExchange(token=token)),
        authenticated=False,
        idempotent=True,
    )


WORKLOAD_BINDINGS = "/api/v1/admin/workload-bindings"


def _binding(namespace: str, service_account: str) -> str:
    key = WorkloadBindingKey(namespace=namespace, service_account=service_account)
    return f"{WORKLOAD_BINDINGS}/{key.path}"


def put_workload_binding(
    namespace: str, service_account: str, queue: str, service_account_uid: str | None = None
) -> Call[WorkloadBinding]:
    """Let ``namespace:service_account`` work ``queue`` only (the operator, per TaskQueue).

    ``service_account_uid`` pins the binding to that ServiceAccount's ``metadata.uid``:
    tokens of a recreated ServiceAccount (another uid) are refused until bound again.
    """
    return Call(
        "put_workload_binding",
        "PUT",
        _binding(namespace, service_account),
        model(WorkloadBinding),
        service="auth",
        json=body_of(WorkloadBindingPut(queue=queue, service_account_uid=service_account_uid)),
        idempotent=True,
    )


def delete_workload_binding(namespace: str, service_account: str) -> Call[None]:
    """Revoke: that ServiceAccount's next exchange is refused."""
    return Call(
        "delete_workload_binding",
        "DELETE",
        _binding(namespace, service_account),
        nothing,
        service="auth",
        idempotent=True,
    )


def list_workload_bindings() -> Call[list[WorkloadBinding]]:
    return Call(
        "list_workload_bindings",
        "GET",
        WORKLOAD_BINDINGS,
        model(list[WorkloadBinding]),
        service="auth",
        idempotent=True,
    )
