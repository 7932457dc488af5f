"""Leasing (``POST /queues/{queue}/leases``, long-polling) and the lease actions:
heartbeat, complete, fail, release, and batch heartbeat and complete for workers that
hold many leases at once.

Any mismatch (unknown, expired, reclaimed or another worker's lease) is a 409 and
changes nothing: the update statements match the lease id, the in-progress status and
an unexpired lease together, or no row at all. In a batch such an item is reported as
not completed and the others complete (each item is judged on its own).

Every action is one statement on a pooled autocommit psycopg connection (``queue.pool``),
its answer encoded once from the engine's records (``queue.wire``); the pydantic models
named in the decorators describe those answers in the OpenAPI document.

``/queues/{queue}/lease-stream`` is the streaming lease (a WebSocket): credit up, tasks
down, lease actions on the same connection (``queue.stream``), its claims made for
every streaming worker of the queue at once (``queue.dispatch``). Its handshake is
judged like a request: 401/403 (the ``queues:work`` scope, a queue-bound token's
queue), 422 (queue name, ``worker_id``) and 404 are problem+json answers instead of
the upgrade.
"""

from __future__ import annotations

import re
import uuid
from functools import partial
from typing import Any, cast

import psycopg
from fastapi import APIRouter, Request, Response, WebSocket
from psycopg_pool import PoolTimeout

from task_service import queue as engine
from task_service.api.deps import (
    QUEUE_NOT_FOUND,
    NotifierDep,
    QueuePath,
    QueueWorkerDep,
    SettingsDep,
    WorkerDep,
)
from task_service.api.problems import STATUS
from task_service.queue import wire
from task_service.queue.dispatch import Dispatchers
from task_service.queue.errors import QueueError
from task_service.queue.pool import QueuePool
from task_service.queue.records import LeaseOutcome
from task_service.queue.schemas import (
    CompleteBatchOut,
    CompleteBatchRequest,
    CompleteRequest,
    FailRequest,
    HeartbeatBatchOut,
    HeartbeatBatchRequest,
    HeartbeatOut,
    LeaseAction,
    LeaseOut,
    LeaseRequest,
    LeaseResult,
)
from task_service.queue.stream import StreamSession
from task_service.queue.telemetry import linked, receiving
from taskplane_client.models import NO_NUL, QUEUE_NAME_PATTERN
from taskplane_common.errors import ProblemError, problem_response, problem_type
from taskplane_common.principals import QUEUE_WORK_SCOPE, current_principal, require_scope

router = APIRouter(prefix="/api/v1", tags=["leases"])

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "Lease unknown, expired or held by another worker",
        "content": {"application/problem+json": {}},
    }
}
_DUPLICATE_IDS: dict[int | str, dict[str, Any]] = {422: {"description": "A lease id appears twice"}}


#: ``router.post`` for an action on one lease: a 409 when it is not the caller's to act on.
_one_lease = partial(router.post, responses=_CONFLICT)
#: ``router.post`` for an action on many leases: a 422 when a lease id appears twice.
_many_leases = partial(router.post, responses=_DUPLICATE_IDS)


def _unique(lease_ids: list[uuid.UUID]) -> None:
    """A batch names each lease once (a 422 otherwise)."""
    if len(set(lease_ids)) != len(lease_ids):
        raise ProblemError(422, "each lease_id may appear once", slug="validation-error")


def _result(task: LeaseOutcome, outcome: str) -> Response:
    return wire.answer(wire.lease_results([task], outcome)[task.id])


@_one_lease("/leases/{lease_id}/heartbeat", response_model=HeartbeatOut, summary="Extend a lease")
async def heartbeat(
    lease_id: uuid.UUID, worker: WorkerDep, body: LeaseAction | None = None
) -> Response:
    task = await engine.heartbeat(
        worker.connection,
        lease_id,
        body.worker_id if body else None,
        worker.settings.timeout_grace_s,
        queue_scope=worker.queue_scope,
    )
    assert task.lease_expires_at is not None
    return wire.answer({"lease_id": lease_id, "lease_expires_at": task.lease_expires_at})


@_many_leases(
    "/leases/heartbeat",
    response_model=HeartbeatBatchOut,
    summary="Extend every lease a worker holds (each judged on its own)",
)
async def heartbeat_many(body: HeartbeatBatchRequest, worker: WorkerDep) -> Response:
    """The leases extended; one left out is gone (unknown, expired, reclaimed, another
    worker's or, for a queue-bound token, another queue's) and was not changed."""
    _unique(body.lease_ids)
    extended = await engine.heartbeat_many(
        worker.connection,
        body.lease_ids,
        body.worker_id,
        worker.settings.timeout_grace_s,
        queue_scope=worker.queue_scope,
    )
    return wire.answer(wire.heartbeat_batch_out(extended))


@_one_lease("/leases/{lease_id}/complete", response_model=LeaseResult, summary="Complete")
async def complete(
    lease_id: uuid.UUID, worker: WorkerDep, body: CompleteRequest | None = None
) -> Response:
    body = body or CompleteRequest()
    task = await engine.complete(
        worker.connection, lease_id, body.worker_id, body.result, queue_scope=worker.queue_scope
    )
    return _result(task, "completed")


@_many_leases(
    "/leases/complete",
    response_model=CompleteBatchOut,
    summary="Complete several leases in one transaction (each judged on its own)",
)
async def complete_many(body: CompleteBatchRequest, worker: WorkerDep) -> Response:
    """A queue-bound token's items of other queues are reported as not completed."""
    lease_ids = [item.lease_id for item in body.items]
    _unique(lease_ids)
    done = await engine.complete_many(
        worker.connection,
        [(item.lease_id, item.result) for item in body.items],
        body.worker_id,
        queue_scope=worker.queue_scope,
    )
    return wire.answer(wire.complete_batch_out(lease_ids, done))


@_one_lease(
    "/leases/{lease_id}/fail",
    response_model=LeaseResult,
    summary="Report a failed attempt (retried with backoff, or dead)",
)
async def fail(lease_id: uuid.UUID, body: FailRequest, worker: WorkerDep) -> Response:
    task = await engine.fail(
        worker.connection,
        lease_id,
        body.worker_id,
        body.error,
        retryable=body.retryable,
        queue_scope=worker.queue_scope,
    )
    return _result(task, "failed")


@_one_lease(
    "/leases/{lease_id}/release",
    response_model=LeaseResult,
    summary="Give a task back without counting the attempt (a draining worker)",
)
async def release(
    lease_id: uuid.UUID, worker: WorkerDep, body: LeaseAction | None = None
) -> Response:
    worker_id = body.worker_id if body else None
    task = await engine.release(
        worker.connection, lease_id, worker_id, queue_scope=worker.queue_scope
    )
    return _result(task, "released")


@router.post(
    "/queues/{queue}/leases",
    response_model=LeaseOut,
    responses=QUEUE_NOT_FOUND,
    summary="Lease up to max_tasks tasks, long-polling up to wait_s",
)
async def lease(
    queue: QueuePath,
    body: LeaseRequest,
    request: Request,
    settings: SettingsDep,
    notifier: NotifierDep,
    principal: QueueWorkerDep,
) -> Response:
    """Empty ``tasks`` after ``wait_s`` (clamped to the server's maximum) is normal."""
    principal.check_queue(queue)
    with receiving(queue) as span:
        granted = await engine.lease_wait(
            QueuePool.of(request.app),
            notifier,
            queue,
            body.worker_id,
            min(body.max_tasks, settings.max_lease_batch),
            wait_s=min(body.wait_s, settings.max_wait_s),
            timeout_grace_s=settings.timeout_grace_s,
            reclaim_batch=settings.reaper_batch,
            client_gone=request.is_disconnected,
        )
        linked(span, granted.tasks)
    return wire.answer(
        wire.lease_out(queue, granted.tasks, granted.visibility_timeout_s, granted.max_attempts)
    )


async def _authorize(websocket: WebSocket, queue: str) -> None:
    """The caller may work ``queue`` (its token verified now): else a ``ProblemError``."""
    request = cast(Request, websocket)  # only its app and headers are read
    principal = await require_scope(QUEUE_WORK_SCOPE)(await current_principal(request))
    principal.check_queue(queue)


async def _admit(websocket: WebSocket, queue: str) -> str:
    """The stream's handshake checks, as a request's: its worker id, or a
    ``ProblemError`` or an engine refusal when the stream may not open."""
    await _authorize(websocket, queue)
    worker_id = websocket.query_params.get("worker_id", "")
    if not re.fullmatch(QUEUE_NAME_PATTERN, queue):
        raise ProblemError(422, f"queue: must match {QUEUE_NAME_PATTERN}", slug="validation-error")
    if not 1 <= len(worker_id) <= 200 or not re.fullmatch(NO_NUL, worker_id):
        detail = "worker_id: a query parameter of 1 to 200 characters is required"
        raise ProblemError(422, detail, slug="validation-error")
    settings = websocket.app.state.settings
    async with QueuePool.of(websocket.app).connection() as connection:
        # Claims nothing: whether the queue exists (else QueueNotFound).
        await engine.lease(
            connection,
            queue,
            worker_id,
            0,
            timeout_grace_s=settings.timeout_grace_s,
            reclaim_batch=settings.reaper_batch,
        )
    return worker_id


@router.websocket("/queues/{queue}/lease-stream", name="lease_stream")
async def lease_stream(websocket: WebSocket, queue: str) -> None:
    """A worker's streaming lease (``queue.stream`` describes the messages)."""
    try:
        worker_id = await _admit(websocket, queue)
    except ProblemError as exc:
        refusal = problem_response(
            exc.status, exc.detail, type_=exc.type, title=exc.title, headers=exc.headers
        )
    except QueueError as exc:
        status, slug = STATUS[type(exc)]
        refusal = problem_response(status, str(exc), type_=problem_type(slug))
    except (psycopg.OperationalError, PoolTimeout, OSError) as exc:
        detail = f"the database cannot be reached: {exc}"
        refusal = problem_response(503, detail, type_=problem_type("database-unavailable"))
    else:
        await websocket.accept()
        app = websocket.app
        dispatchers = Dispatchers.of(app)
        session = StreamSession(
            websocket,
            queue,
            worker_id,
            dispatchers.dispatcher(queue),
            QueuePool.of(app),
            app.state.settings,
            # A stream outlives its token: it ends once the token has expired or was
            # revoked (the worker reconnects with a fresh one).
            authorized=lambda: _authorize(websocket, queue),
        )
        try:
            await session.run()
        finally:
            dispatchers.forget(queue)
        return
    await websocket.send_denial_response(refusal)
