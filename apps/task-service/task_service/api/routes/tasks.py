"""Tasks API: create, list, read, update, delete, stats."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import JSONResponse

from task_service import crud, idempotency
from task_service import listing as lists
from task_service.api.deps import PrincipalDep, SettingsDep, TaskListingDep, WriterDep
from task_service.models import FINAL_STATUSES
from task_service.pagination import (
    DEFAULT_SORT,
    SortOption,
    parse_sort,
)
from task_service.schemas import (
    PriorityLabel,
    StatusLabel,
    TaskCreate,
    TaskOut,
    TaskPage,
    TaskStats,
    TaskUpdate,
)
from taskplane_common.db import Database, DatabaseDep, Driver, Row
from taskplane_common.errors import ProblemError
from taskplane_common.jsonbody import FastJSONResponse
from taskplane_common.openapi import links, problems, with_links
from taskplane_common.principals import Principal

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

_LIST_PARAMS = frozenset({"status", "priority", "tag", "assignee", "q", "sort", "limit", "cursor"})
_CREATED_TASK = {"task_id": "$response.body#/id"}
_NOT_FOUND = problems(404, s404="No such task (or not visible to you)")
_STALE = problems(412, s412="Stale ETag: the task changed since it was read")
_QUEUED = problems(409, s409="The task is a queue job: change it through its queue")
_LIVE = problems(409, s409="The task is a queue job still to run: cancel it first")
#: A task's path: a canonical UUID only, so ``/tasks/stats`` is never taken for a task id.
_TASK = "/{task_id:uuid}"
#: A user id (canonical UUID), ``me`` or ``none``.
ASSIGNEE_PATTERN = (
    r"^(me|none|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)
#: The ``status`` filter of a list.
StatusFilter = Annotated[list[StatusLabel] | None, Query(description="Repeat to OR")]
IfMatch = Annotated[
    str | None,
    Header(
        max_length=1024,
        description="Change only if the task's ETag is one of these (strong comparison; "
        "anything else, `*` aside, is a 412)",
    ),
]


def etag_of(task: Row) -> str:
    return f'"{task["version"]}"'


def _task_response(task: Row) -> JSONResponse:
    return FastJSONResponse(crud.task_document(task), headers={"ETag": etag_of(task)})


def _not_found(task_id: uuid.UUID) -> ProblemError:
    return ProblemError(404, f"task {task_id} does not exist", slug="task-not-found")


def _queued_task(task: Row, detail: str) -> ProblemError:
    return ProblemError(
        409, f"task {task['id']} is a job of queue {task['queue']!r}: {detail}", slug="queued-task"
    )


def _check_if_match(if_match: str | None, task: Row) -> None:
    """RFC 9110 If-Match: strong comparison, ``*`` matches any existing task."""
    if if_match is None:
        return
    candidates = {tag.strip() for tag in if_match.split(",")}
    if "*" in candidates or etag_of(task) in candidates:
        return
    raise ProblemError(
        412,
        f"the task changed since you read it (current ETag {etag_of(task)})",
        slug="precondition-failed",
        headers={"ETag": etag_of(task)},
    )


def _request_hash(body: TaskCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@router.post(
    "",
    status_code=201,
    response_model=TaskOut,
    summary="Create a task",
    responses=with_links(
        problems(422, s422="Invalid body or reused Idempotency-Key"),
        links(201, get_task=_CREATED_TASK, update_task=_CREATED_TASK, delete_task=_CREATED_TASK),
    ),
)
async def create_task(
    body: TaskCreate,
    principal: WriterDep,
    database: DatabaseDep,
    settings: SettingsDep,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=255, description="Replays return the first response"),
    ] = None,
) -> JSONResponse:
    task_id = uuid.uuid4()
    # A new task is at version 1.
    headers = {"ETag": '"1"', "Location": f"{router.prefix}/{task_id}"}
    async with database.driver() as db:
        if idempotency_key is None:
            # One statement: no transaction round trips.
            payload = await crud.create_task(db, principal, body, task_id)
            return FastJSONResponse(payload, status_code=201, headers=headers)
        async with idempotency.transaction(db):
            stored = await idempotency.claim_idempotency_key(
                db,
                principal.subject,
                idempotency_key,
                _request_hash(body),
                timedelta(hours=settings.idempotency_ttl_hours),
            )
            if stored is None:
                store = (principal.subject, idempotency_key, headers)
                payload = await crud.create_task(db, principal, body, task_id, store)
                return FastJSONResponse(payload, status_code=201, headers=headers)
    if stored.request_hash != _request_hash(body):
        raise ProblemError(
            422,
            "this Idempotency-Key was already used with a different request body",
            slug="idempotency-key-reused",
        )
    return JSONResponse(
        stored.body,
        status_code=stored.status_code,
        headers={**stored.headers, "Idempotent-Replayed": "true"},
    )


@router.get(
    "",
    response_model=TaskPage,
    summary="List tasks (keyset pagination)",
    responses=problems(400, s400="The cursor is invalid, altered or of another sort"),
)
async def list_tasks(
    listing: TaskListingDep,
    status: StatusFilter = None,
    priority: Annotated[list[PriorityLabel] | None, Query(description="Repeat to OR")] = None,
    tag: Annotated[
        list[Annotated[str, Query(min_length=1, max_length=50)]] | None,
        Query(description="Repeat to require every tag (case-insensitive)"),
    ] = None,
    assignee: Annotated[
        str | None,
        Query(pattern=ASSIGNEE_PATTERN, description="A user id, `me`, or `none` for unassigned"),
    ] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="Text search")] = None,
    sort: Annotated[SortOption, Query(description="A field, `-` first for descending")] = (
        DEFAULT_SORT
    ),
) -> JSONResponse:
    listing.refuse_unknown_params(_LIST_PARAMS)
    key = parse_sort(sort)
    principal = listing.principal
    filters = lists.TaskFilters(
        statuses=status or (),
        priorities=priority or (),
        tags=tag or (),
        text=q,
        **_assignee_filter(assignee, principal.user_id),
    )
    position = listing.position(key)
    async with listing.database.driver() as db:
        tasks, more = await lists.list_tasks(db, principal, filters, key, listing.size, position)
    return listing.page(key, tasks, more)


def _assignee_filter(assignee: str | None, me: uuid.UUID | None) -> dict[str, Any]:
    if assignee is None:
        return {}
    if assignee == "none":
        return {"unassigned": True}
    if assignee == "me":
        return {"assignee": me} if me else {"unassigned": True}
    try:
        return {"assignee": uuid.UUID(assignee)}
    except ValueError as exc:
        raise ProblemError(
            422, "assignee must be a user id, 'me' or 'none'", slug="validation-error"
        ) from exc


@router.get("/stats", response_model=TaskStats, summary="Counts by status and priority")
async def task_stats(principal: PrincipalDep, database: DatabaseDep) -> TaskStats:
    async with database.driver() as db:
        return TaskStats(**await crud.task_stats(db, principal))


@router.get(_TASK, response_model=TaskOut, responses=_NOT_FOUND, summary="Get a task")
async def get_task(task_id: uuid.UUID, principal: PrincipalDep, database: DatabaseDep) -> Response:
    async with database.driver() as db:
        task = await crud.get_task(db, principal, task_id)
    if task is None:
        raise _not_found(task_id)
    return _task_response(task)


@dataclass(frozen=True)
class _TaskChange:
    """A change to one task by a writer, honouring ``If-Match``."""

    task_id: uuid.UUID
    principal: Principal
    database: Database
    if_match: str | None

    async def apply(self, change: Callable[[Driver, Row], Awaitable[Response | None]]) -> Response:
        """``change(db, task)`` on the task as it is now, after its visibility and
        ``If-Match`` checks; its answer, or ``None`` when another change landed since
        the task was read.

        The change names the version read here in its ``WHERE``: when another change
        landed in between, it matches nothing and the task is read again (so a stale
        ``If-Match`` becomes a 412, a missing one applies to the new version).
        """
        async with self.database.driver() as db:
            while True:
                task = await crud.get_task(db, self.principal, self.task_id)
                if task is None:
                    raise _not_found(self.task_id)
                _check_if_match(self.if_match, task)
                answer = await change(db, task)
                if answer is not None:
                    return answer


async def _task_change(
    task_id: uuid.UUID, principal: WriterDep, database: DatabaseDep, if_match: IfMatch = None
) -> _TaskChange:
    return _TaskChange(task_id, principal, database, if_match)


TaskChangeDep = Annotated[_TaskChange, Depends(_task_change)]


@router.patch(
    _TASK,
    response_model=TaskOut,
    summary="Update a task (If-Match honoured)",
    responses={**_NOT_FOUND, **_STALE, **_QUEUED},
)
async def update_task(body: TaskUpdate, change: TaskChangeDep) -> Response:
    async def update(db: Driver, task: Row) -> Response | None:
        if crud.is_queue_job(task):
            # Its queue owns its life: a change here would race the engine.
            raise _queued_task(
                task, "change it through its queue (cancel it, or retry it from the dead letters)"
            )
        updated = await crud.update_task(db, task, body)
        return None if updated is None else _task_response(updated)

    return await change.apply(update)


@router.delete(
    _TASK,
    status_code=204,
    summary="Delete a task, or a finished queue job (If-Match honoured)",
    responses={**_NOT_FOUND, **_STALE, **_LIVE},
)
async def delete_task(change: TaskChangeDep) -> Response:
    async def delete(db: Driver, task: Row) -> Response | None:
        if crud.is_queue_job(task) and task["status"] not in FINAL_STATUSES:
            raise _queued_task(task, f"it is {task['status']}; cancel it first")
        return Response(status_code=204) if await crud.delete_task(db, task) else None

    return await change.apply(delete)
