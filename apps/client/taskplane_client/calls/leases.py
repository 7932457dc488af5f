"""Lease calls: what a worker does with the tasks it holds."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from taskplane_client.calls.common import LEASES, LONG_POLL_MARGIN_S, _queue
from taskplane_client.models import (
    Completion,
    CompletionResult,
    HeartbeatResult,
    Lease,
    LeasedTask,
    LeaseResult,
)
from taskplane_client.transport import Call, body_of, model

__all__ = [
    "complete",
    "complete_many",
    "fail",
    "heartbeat",
    "heartbeat_many",
    "lease",
    "release",
]

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
