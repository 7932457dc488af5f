"""Lease actions: heartbeat, complete, fail, release (design.md §5).

Any mismatch (unknown, expired, reclaimed or another worker's lease) is a 409 and
changes nothing: the update statements match the lease id, the in-progress status and
an unexpired lease together, or no row at all.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from task_service import queues
from task_service.api.deps import QueueWorkerDep, SessionDep, SettingsDep
from task_service.models import Task
from task_service.queue_schemas import (
    CompleteRequest,
    FailRequest,
    HeartbeatOut,
    LeaseAction,
    LeaseResult,
)
from task_service.runtime import ACK_LATENCY

router = APIRouter(prefix="/api/v1/leases", tags=["leases"])

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "Lease unknown, expired or held by another worker",
        "content": {"application/problem+json": {}},
    }
}


def _result(task: Task, outcome: str) -> LeaseResult:
    if task.leased_at is not None:
        elapsed = (datetime.now(UTC) - task.leased_at).total_seconds()
        ACK_LATENCY.labels(task.queue or "", outcome).observe(max(0.0, elapsed))
    return LeaseResult(id=task.id, status=task.status, attempts=task.attempts, run_at=task.run_at)


@router.post(
    "/{lease_id}/heartbeat",
    response_model=HeartbeatOut,
    responses=_CONFLICT,
    summary="Extend a lease",
)
async def heartbeat(
    lease_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    _: QueueWorkerDep,
    body: LeaseAction | None = None,
) -> HeartbeatOut:
    worker_id = body.worker_id if body else None
    task = await queues.heartbeat(session, lease_id, worker_id, settings.timeout_grace_s)
    await session.commit()
    assert task.lease_expires_at is not None
    return HeartbeatOut(lease_id=lease_id, lease_expires_at=task.lease_expires_at)


@router.post(
    "/{lease_id}/complete", response_model=LeaseResult, responses=_CONFLICT, summary="Complete"
)
async def complete(
    lease_id: uuid.UUID,
    session: SessionDep,
    _: QueueWorkerDep,
    body: CompleteRequest | None = None,
) -> LeaseResult:
    body = body or CompleteRequest()
    task = await queues.complete(session, lease_id, body.worker_id, body.result)
    await session.commit()
    return _result(task, "completed")


@router.post(
    "/{lease_id}/fail",
    response_model=LeaseResult,
    responses=_CONFLICT,
    summary="Report a failed attempt (retried with backoff, or dead)",
)
async def fail(
    lease_id: uuid.UUID, body: FailRequest, session: SessionDep, _: QueueWorkerDep
) -> LeaseResult:
    task = await queues.fail(
        session, lease_id, body.worker_id, body.error, retryable=body.retryable
    )
    await session.commit()
    return _result(task, "failed")


@router.post(
    "/{lease_id}/release",
    response_model=LeaseResult,
    responses=_CONFLICT,
    summary="Give a task back without counting the attempt (a draining worker)",
)
async def release(
    lease_id: uuid.UUID,
    session: SessionDep,
    _: QueueWorkerDep,
    body: LeaseAction | None = None,
) -> LeaseResult:
    task = await queues.release(session, lease_id, body.worker_id if body else None)
    await session.commit()
    return _result(task, "released")
