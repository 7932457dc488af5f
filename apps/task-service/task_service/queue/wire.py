"""The hot routes' answers, encoded once (pydantic-core's JSON encoder) straight from the
engine's records.

The routes still declare their pydantic response models (the OpenAPI document is the
contract); these functions build exactly those shapes (``LeaseOut``, ``LeaseResult``,
``CompleteBatchOut``, ``HeartbeatBatchOut``) without a model per task and a validation
and dump per answer. Instrumentation is per batch: one histogram child per queue.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import Response
from pydantic_core import to_json

from task_service.models import Priority
from task_service.queue.metrics import ACK_LATENCY, LEASE_LATENCY
from task_service.queue.records import Leased, LeaseOutcome

Json = dict[str, Any]


def answer(body: Any) -> Response:
    """A JSON response of ``body`` (UUIDs and datetimes as pydantic writes them)."""
    return Response(to_json(body), media_type="application/json")


def leased_task(task: Leased, queue_max_attempts: int) -> Json:
    """``LeasedTask``: a task without its own ``max_attempts`` follows the queue's."""
    return {
        "id": task.id,
        "queue": task.queue,
        "title": task.title,
        "payload": task.payload or {},
        "priority": Priority(task.priority).label,
        "attempt": task.attempts,
        "max_attempts": task.max_attempts or queue_max_attempts,
        "timeout_s": task.timeout_s,
        "lease_id": task.lease_id,
        "lease_expires_at": task.lease_expires_at,
        "traceparent": task.traceparent,
        "created_at": task.created_at,
    }


def lease_out(
    queue: str, tasks: list[Leased], visibility_timeout_s: int, max_attempts: int
) -> Json:
    """``LeaseOut``, observing each task's wait for a lease on one histogram child."""
    observe = LEASE_LATENCY.labels(queue).observe
    for task in tasks:
        observe(max(0.0, (task.leased_at - task.run_at).total_seconds()))
    return {
        "tasks": [leased_task(task, max_attempts) for task in tasks],
        "visibility_timeout_s": visibility_timeout_s,
    }


def lease_results(tasks: Iterable[LeaseOutcome], outcome: str) -> dict[uuid.UUID, Json]:
    """``LeaseResult`` of each task by id, observing how long each lease lasted (one
    histogram child per queue of the batch)."""
    now = datetime.now(UTC)
    children: dict[str, Any] = {}
    results: dict[uuid.UUID, Json] = {}
    for task in tasks:
        if task.leased_at is not None:
            queue = task.queue or ""
            child = children.get(queue)
            if child is None:
                child = children[queue] = ACK_LATENCY.labels(queue, outcome)
            child.observe(max(0.0, (now - task.leased_at).total_seconds()))
        results[task.id] = {
            "id": task.id,
            "status": task.status,
            "attempts": task.attempts,
            "run_at": task.run_at,
        }
    return results


def complete_batch_out(lease_ids: list[uuid.UUID], done: Mapping[uuid.UUID, LeaseOutcome]) -> Json:
    """``CompleteBatchOut``: one item per requested lease, in request order."""
    results = lease_results(done.values(), "completed")
    items = []
    for lease_id in lease_ids:
        task = done.get(lease_id)
        result = None if task is None else results[task.id]
        items.append({"lease_id": lease_id, "completed": task is not None, "task": result})
    return {"items": items}


def heartbeat_batch_out(extended: Mapping[uuid.UUID, datetime]) -> Json:
    """``HeartbeatBatchOut``: the leases extended."""
    return {
        "items": [
            {"lease_id": lease_id, "lease_expires_at": expires}
            for lease_id, expires in extended.items()
        ]
    }
