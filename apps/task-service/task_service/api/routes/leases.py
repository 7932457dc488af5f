"""Lease actions: heartbeat, complete, fail, release, and batch heartbeat and complete
for workers that hold many leases at once.

Any mismatch (unknown, expired, reclaimed or another worker's lease) is a 409 and
changes nothing: the update statements match the lease id, the in-progress status and
an unexpired lease together, or no row at all. In a batch such an item is reported as
not completed and the others complete (each item is judged on its own).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from task_service import queue as engine
from task_service.api.deps import QueueWorkerDep, SessionDep, SettingsDep
from task_service.queue.metrics import ACK_LATENCY
from task_service.queue.records import LeaseOutcome
from task_service.queue_schemas import (
    CompleteBatchOut,
    CompleteBatchRequest,
    CompleteBatchResult,
    CompleteRequest,
    FailRequest,
    HeartbeatBatchOut,
    HeartbeatBatchRequest,
    HeartbeatOut,
    LeaseAction,
    LeaseResult,
)
from taskplane_common.errors import ProblemError

router = APIRouter(prefix="/api/v1/leases", tags=["leases"])

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "Lease unknown, expired or held by another worker",
        "content": {"application/problem+json": {}},
    }
}


def _result(task: LeaseOutcome, outcome: str, now: datetime | None = None) -> LeaseResult:
    if task.leased_at is not None:
        elapsed = ((now or datetime.now(UTC)) - task.leased_at).total_seconds()
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
    principal: QueueWorkerDep,
    body: LeaseAction | None = None,
) -> HeartbeatOut:
    worker_id = body.worker_id if body else None
    await engine.autocommit(session)  # one statement: atomic by itself
    task = await engine.heartbeat(
        session, lease_id, worker_id, settings.timeout_grace_s, queue_scope=principal.queue
    )
    await session.commit()
    assert task.lease_expires_at is not None
    return HeartbeatOut(lease_id=lease_id, lease_expires_at=task.lease_expires_at)


@router.post(
    "/heartbeat",
    response_model=HeartbeatBatchOut,
    responses={422: {"description": "A lease id appears twice"}},
    summary="Extend every lease a worker holds (each judged on its own)",
)
async def heartbeat_many(
    body: HeartbeatBatchRequest,
    session: SessionDep,
    settings: SettingsDep,
    principal: QueueWorkerDep,
) -> HeartbeatBatchOut:
    """The leases extended; one left out is gone (unknown, expired, reclaimed, another
    worker's or, for a queue-bound token, another queue's) and was not changed."""
    if len(set(body.lease_ids)) != len(body.lease_ids):
        raise ProblemError(422, "each lease_id may appear once", slug="validation-error")
    await engine.autocommit(session)  # one statement: atomic by itself
    extended = await engine.heartbeat_many(
        session,
        body.lease_ids,
        body.worker_id,
        settings.timeout_grace_s,
        queue_scope=principal.queue,
    )
    await session.commit()
    return HeartbeatBatchOut(
        items=[
            HeartbeatOut(lease_id=lease_id, lease_expires_at=expires)
            for lease_id, expires in extended.items()
        ]
    )


@router.post(
    "/{lease_id}/complete", response_model=LeaseResult, responses=_CONFLICT, summary="Complete"
)
async def complete(
    lease_id: uuid.UUID,
    session: SessionDep,
    principal: QueueWorkerDep,
    body: CompleteRequest | None = None,
) -> LeaseResult:
    body = body or CompleteRequest()
    await engine.autocommit(session)  # one statement: atomic by itself
    task = await engine.complete(
        session, lease_id, body.worker_id, body.result, queue_scope=principal.queue
    )
    await session.commit()
    return _result(task, "completed")


@router.post(
    "/complete",
    response_model=CompleteBatchOut,
    responses={422: {"description": "A lease id appears twice"}},
    summary="Complete several leases in one transaction (each judged on its own)",
)
async def complete_many(
    body: CompleteBatchRequest, session: SessionDep, principal: QueueWorkerDep
) -> CompleteBatchOut:
    """A queue-bound token's items of other queues are reported as not completed."""
    lease_ids = [item.lease_id for item in body.items]
    if len(set(lease_ids)) != len(lease_ids):
        raise ProblemError(422, "each lease_id may appear once", slug="validation-error")
    await engine.autocommit(session)  # one statement: atomic by itself
    done = await engine.complete_many(
        session,
        [(item.lease_id, item.result) for item in body.items],
        body.worker_id,
        queue_scope=principal.queue,
    )
    await session.commit()
    now = datetime.now(UTC)
    results = []
    for lease_id in lease_ids:
        task = done.get(lease_id)
        results.append(
            CompleteBatchResult(
                lease_id=lease_id,
                completed=task is not None,
                task=None if task is None else _result(task, "completed", now),
            )
        )
    return CompleteBatchOut(items=results)


@router.post(
    "/{lease_id}/fail",
    response_model=LeaseResult,
    responses=_CONFLICT,
    summary="Report a failed attempt (retried with backoff, or dead)",
)
async def fail(
    lease_id: uuid.UUID, body: FailRequest, session: SessionDep, principal: QueueWorkerDep
) -> LeaseResult:
    await engine.autocommit(session)  # one statement: atomic by itself
    task = await engine.fail(
        session,
        lease_id,
        body.worker_id,
        body.error,
        retryable=body.retryable,
        queue_scope=principal.queue,
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
    principal: QueueWorkerDep,
    body: LeaseAction | None = None,
) -> LeaseResult:
    await engine.autocommit(session)  # one statement: atomic by itself
    task = await engine.release(
        session, lease_id, body.worker_id if body else None, queue_scope=principal.queue
    )
    await session.commit()
    return _result(task, "released")
