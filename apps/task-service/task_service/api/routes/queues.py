"""Queues API: configuration, stats, enqueue, dead letters (leasing is in ``leases``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from task_service import queue as engine
from task_service.api.deps import (
    QUEUE_NOT_FOUND,
    CancellerDep,
    CursorCodecDep,
    EnqueuerDep,
    PrincipalDep,
    QueueAdminDep,
    QueueChangeDep,
    QueuePath,
    ReadSessionDep,
    SettingsDep,
)
from task_service.config import Settings
from task_service.models import Queue
from task_service.pagination import CURSOR_PATTERN, parse_sort
from task_service.queue.pool import QueueConnectionDep
from task_service.queue.schemas import (
    EnqueueBatchOut,
    QueueConfig,
    QueuedTaskOut,
    QueueList,
    QueueOut,
    QueueStats,
    TaskBatch,
    TaskEnqueue,
)
from task_service.tracing import current_traceparent
from taskplane_client.models import Request as _Body
from taskplane_common.deps import Audited, SessionDep
from taskplane_common.errors import ProblemError
from taskplane_common.openapi import problems

router = APIRouter(prefix="/api/v1", tags=["queues"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


def _queue_out(queue: Queue, stats: QueueStats) -> QueueOut:
    config = QueueConfig.model_validate(queue, from_attributes=True)
    return QueueOut(name=queue.name, config=config, **dict(stats))


@router.get("/queues", response_model=QueueList, summary="Every queue with its stats")
async def list_queues(session: ReadSessionDep, principal: PrincipalDep) -> QueueList:
    """A queue-bound token sees its own queue only."""
    configs = [
        queue
        for queue in await engine.list_queues(session)
        if principal.queue in (None, queue.name)
    ]
    stats = await engine.queue_stats(session, [queue.name for queue in configs])
    return QueueList(items=[_queue_out(queue, stats[queue.name]) for queue in configs])


@router.get(
    "/queues/{queue}", response_model=QueueOut, responses=QUEUE_NOT_FOUND, summary="Queue stats"
)
async def get_queue(queue: QueuePath, session: ReadSessionDep, principal: PrincipalDep) -> QueueOut:
    principal.check_queue(queue)
    return _queue_out(*await engine.describe_queue(session, queue))


@router.put(
    "/queues/{queue}",
    response_model=QueueOut,
    responses={201: {"description": "Queue created"}},
    summary="Create or replace a queue's configuration (the operator calls this)",
)
async def put_queue(queue: QueuePath, config: QueueConfig, change: QueueChangeDep) -> JSONResponse:
    created = await engine.put_queue(change.session, queue, config)
    config_json = config.model_dump(mode="json")
    await change.commit("queue.put", f"queue:{queue}", created=created, config=config_json)
    described = await engine.describe_queue(change.session, queue)
    body = _queue_out(*described).model_dump(mode="json")
    return JSONResponse(body, status_code=201 if created else 200)


@router.delete(
    "/queues/{queue}",
    status_code=204,
    responses={**QUEUE_NOT_FOUND, 409: {"description": "Tasks in flight", **_PROBLEM}},
    summary="Delete a queue and every task it has (unfinished ones are cancelled first)",
)
async def delete_queue(
    queue: QueuePath,
    change: QueueChangeDep,
    force: Annotated[bool, Query(description="Also revoke leases of tasks in flight")] = False,
) -> Response:
    """Nothing of the queue stays readable by id, and a queue created again under the
    same name starts empty; the feed gets a task.cancelled event for each unfinished
    task, the audit log an entry."""
    deleted = await engine.delete_queue(change.session, queue, force=force)
    await change.commit("queue.delete", f"queue:{queue}", force=force, tasks_deleted=deleted)
    return Response(status_code=204)


def _check_sizes(settings: Settings, items: list[TaskEnqueue]) -> None:
    if len(items) > settings.max_enqueue_batch:
        raise ProblemError(
            422,
            f"at most {settings.max_enqueue_batch} tasks per request",
            slug="validation-error",
        )
    for index, item in enumerate(items):
        size = len(json.dumps(item.payload, separators=(",", ":")).encode())
        if size > settings.max_payload_bytes:
            raise ProblemError(
                413,
                f"payload of task {index} is {size} bytes; the limit is "
                f"{settings.max_payload_bytes}",
                slug="payload-too-large",
            )


@router.post(
    "/queues/{queue}/tasks",
    status_code=201,
    response_model=QueuedTaskOut | EnqueueBatchOut,
    responses={
        200: {"description": "A live task with this dedupe_key exists; it is returned"},
        413: {"description": "Payload over the size limit", **_PROBLEM},
    },
    summary="Enqueue one task, or {tasks: [...]} in one transaction",
)
async def enqueue(
    queue: QueuePath,
    body: TaskEnqueue | TaskBatch,
    connection: QueueConnectionDep,
    settings: SettingsDep,
    principal: EnqueuerDep,
) -> Response:
    """One transaction on a pooled psycopg connection; the answer is dumped once by
    pydantic's JSON serializer."""
    principal.check_queue(queue)
    items = body.tasks if isinstance(body, TaskBatch) else [body]
    _check_sizes(settings, items)
    async with connection.transaction():
        out = await engine.enqueue(connection, principal, queue, items, current_traceparent())
    if isinstance(body, TaskBatch):
        batch = EnqueueBatchOut(tasks=out).model_dump_json()
        return Response(batch, status_code=201, media_type="application/json")
    task = out[0]
    return Response(
        task.model_dump_json(),
        status_code=200 if task.deduplicated else 201,
        headers={"Location": f"/api/v1/tasks/{task.id}"},
        media_type="application/json",
    )


#: Dead tasks are paged newest first (``updated_at``, then id, both descending).
_DEAD_ORDER = parse_sort("-updated_at")


@router.get(
    "/queues/{queue}/dead",
    response_model=list[QueuedTaskOut],
    summary="Dead-lettered tasks, most recent first; a Link header (rel=next) pages on",
    responses={**QUEUE_NOT_FOUND, **problems(400, s400="The cursor is invalid or was altered")},
)
async def list_dead(
    queue: QueuePath,
    request: Request,
    response: Response,
    session: ReadSessionDep,
    codec: CursorCodecDep,
    _: QueueAdminDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN, max_length=1024)] = None,
) -> list[QueuedTaskOut]:
    after = codec.decode(cursor, _DEAD_ORDER) if cursor else None
    tasks, more = await engine.list_dead(session, queue, limit, after)
    if more:
        following = codec.encode(_DEAD_ORDER, tasks[-1])
        url = request.url.include_query_params(cursor=following, limit=limit)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    return tasks


@router.post(
    "/queues/{queue}/dead/{task_id}/retry",
    response_model=QueuedTaskOut,
    responses=problems(404, s404="No such dead task in this queue"),
    summary="Give a dead task a fresh set of attempts",
)
async def retry_dead(queue: QueuePath, task_id: uuid.UUID, change: QueueChangeDep) -> QueuedTaskOut:
    task = await engine.retry_dead(change.session, queue, task_id)
    await change.commit("dead_letter.retry", f"queue:{queue}", task_ids=[str(task_id)])
    return task


#: A UUID given as JSON text (the strict request body would otherwise want a UUID object).
_Uuid = Annotated[uuid.UUID, Field(strict=False)]


class DeadLetterSelection(_Body):
    """Which dead tasks a bulk action applies to: all of the queue's, narrowed by each
    filter that is set; ``dry_run`` only counts them (the count a person confirms)."""

    error_contains: str | None = Field(
        None, min_length=1, max_length=1000, description="Case-insensitive, in the last error"
    )
    ids: list[_Uuid] | None = Field(None, max_length=10_000, description="Only these tasks")
    dry_run: bool = False

    def matcher(self) -> Callable[[QueuedTaskOut], bool]:
        """The test a dead task passes to be selected."""
        ids = set(self.ids) if self.ids is not None else None
        needle = (self.error_contains or "").casefold()

        def matches(task: QueuedTaskOut) -> bool:
            in_ids = ids is None or task.id in ids
            return in_ids and needle in (task.last_error or "").casefold()

        return matches


class DeadLetterCount(BaseModel):
    #: The tasks the action applied to (would apply to, for a dry run).
    matched: int


#: Dead tasks read per page while a bulk action walks the queue.
_BULK_PAGE = 500


async def _each_dead(
    session: AsyncSession, queue: str, selection: DeadLetterSelection
) -> list[QueuedTaskOut]:
    """Every dead task of ``queue`` that ``selection`` matches (paged keyset reads of
    the engine's listing, in the caller's transaction)."""
    matches = selection.matcher()
    matched: list[QueuedTaskOut] = []
    after: tuple[datetime, uuid.UUID] | None = None
    more = True
    while more:
        tasks, more = await engine.list_dead(session, queue, _BULK_PAGE, after)
        matched += [task for task in tasks if matches(task)]
        if tasks:
            after = (tasks[-1].updated_at, tasks[-1].id)
    return matched


async def _bulk(
    action: Literal["retry", "delete"], queue: str, selection: DeadLetterSelection, change: Audited
) -> DeadLetterCount:
    """Count (dry run) or act on every matching dead task in one transaction: all of
    them or, on the first refusal, none."""
    session = change.session
    change.actor.check_queue(queue)
    targets = await _each_dead(session, queue, selection)
    if selection.dry_run:
        return DeadLetterCount(matched=len(targets))
    if action == "retry":
        for task in targets:
            await engine.retry_dead(session, queue, task.id)
        done = [str(task.id) for task in targets]
    else:
        deleted = await engine.delete_finished(
            session, [task.id for task in targets], dead_of=queue
        )
        done = [str(task.id) for task in targets if task.id in deleted]
    await change.commit(
        f"dead_letter.{action}",
        f"queue:{queue}",
        task_ids=done,
        error_contains=selection.error_contains,
    )
    return DeadLetterCount(matched=len(done))


def _bulk_route(action: Literal["retry", "delete"], summary: str, responses: Any) -> None:
    """``POST /queues/{queue}/dead/<action>``: the two bulk routes differ in the action."""

    async def bulk(
        queue: QueuePath, selection: DeadLetterSelection, change: QueueChangeDep
    ) -> DeadLetterCount:
        return await _bulk(action, queue, selection, change)

    bulk.__name__ = f"{action}_dead_matching"
    router.post(
        f"/queues/{{queue}}/dead/{action}",
        response_model=DeadLetterCount,
        responses=responses,
        summary=summary,
    )(bulk)


_bulk_route(
    "retry",
    "Retry every dead task matching a filter (dry_run: only count them)",
    {**QUEUE_NOT_FOUND, **problems(409, s409="A retried task's dedupe_key is held by a live task")},
)
_bulk_route(
    "delete", "Delete every dead task matching a filter (dry_run: only count them)", QUEUE_NOT_FOUND
)


@router.post(
    "/tasks/{task_id}/cancel",
    response_model=QueuedTaskOut,
    responses=problems(
        404,
        409,
        s404="No such task (or not visible to you)",
        s409="The task already finished, or is not a queue job",
    ),
    summary="Cancel a task that has not finished",
)
async def cancel_task(
    task_id: uuid.UUID, session: SessionDep, principal: CancellerDep
) -> QueuedTaskOut:
    task = await engine.cancel(session, principal, task_id)
    await session.commit()
    return task
