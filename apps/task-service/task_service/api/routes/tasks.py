"""Tasks API: create, list, read, update, delete, stats."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from task_service import crud
from task_service.api.deps import (
    CursorCodecDep,
    PrincipalDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    WriterDep,
)
from task_service.models import Task
from task_service.pagination import (
    CURSOR_PATTERN,
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
    task_out,
)
from taskplane_common.errors import ProblemError
from taskplane_common.openapi import links, problems, with_links
from taskplane_common.paging import PageLimit, page_size
from taskplane_common.security import Principal

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

_LIST_PARAMS = frozenset({"status", "priority", "tag", "assignee", "q", "sort", "limit", "cursor"})
_CREATED_TASK = {"task_id": "$response.body#/id"}
_NOT_FOUND = problems(404, s404="No such task (or not visible to you)")
_STALE = problems(412, s412="Stale ETag: the task changed since it was read")
#: A task's path: a canonical UUID only, so ``/tasks/stats`` is never taken for a task id.
_TASK = "/{task_id:uuid}"
#: A user id (canonical UUID), ``me`` or ``none``.
ASSIGNEE_PATTERN = (
    r"^(me|none|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)
#: If-Match as RFC 9110 writes it: ``*`` or a list of (strong or weak) entity tags.
IF_MATCH_PATTERN = r'^(\*|(W/)?"[!#-~]*"( *, *(W/)?"[!#-~]*")*)$'
IfMatch = Annotated[
    str | None,
    Header(
        pattern=IF_MATCH_PATTERN,
        max_length=1024,
        description="Change only if the task's ETag is one of these (strong comparison)",
    ),
]


def etag_of(task: Task) -> str:
    return f'"{task.version}"'


def _task_response(task: Task, status_code: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(
        task_out(task).model_dump(mode="json"),
        status_code=status_code,
        headers={"ETag": etag_of(task), **headers},
    )


def _not_found(task_id: uuid.UUID) -> ProblemError:
    return ProblemError(404, f"task {task_id} does not exist", slug="task-not-found")


def _check_if_match(if_match: str | None, task: Task) -> None:
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
    session: SessionDep,
    principal: WriterDep,
    settings: SettingsDep,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=255, description="Replays return the first response"),
    ] = None,
) -> JSONResponse:
    if idempotency_key is not None:
        stored = await crud.claim_idempotency_key(
            session,
            principal.subject,
            idempotency_key,
            _request_hash(body),
            timedelta(hours=settings.idempotency_ttl_hours),
        )
        if stored is not None:
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
    task = await crud.create_task(session, principal, body)
    headers = {"ETag": etag_of(task), "Location": f"{router.prefix}/{task.id}"}
    payload = task_out(task).model_dump(mode="json")
    if idempotency_key is not None:
        await crud.store_idempotent_response(
            session, principal.subject, idempotency_key, 201, payload, headers
        )
    await session.commit()
    return JSONResponse(payload, status_code=201, headers=headers)


@router.get(
    "",
    response_model=TaskPage,
    summary="List tasks (keyset pagination)",
    responses=problems(400, s400="The cursor is invalid, altered or of another sort"),
)
async def list_tasks(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    codec: CursorCodecDep,
    status: Annotated[list[StatusLabel] | None, Query(description="Repeat to OR")] = None,
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
    limit: PageLimit = None,
    cursor: Annotated[
        str | None,
        Query(
            pattern=CURSOR_PATTERN,
            max_length=1024,
            description="`next_cursor` of the previous page, with the same `sort`",
        ),
    ] = None,
) -> JSONResponse:
    unknown = sorted(set(request.query_params) - _LIST_PARAMS)
    if unknown:
        raise ProblemError(
            422,
            f"unknown query parameter(s): {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(_LIST_PARAMS))}",
            slug="unknown-query-parameter",
        )
    size = page_size(settings, limit)
    key = parse_sort(sort)
    filters = crud.TaskFilters(
        statuses=status or (),
        priorities=priority or (),
        tags=tag or (),
        text=q,
        **_assignee_filter(assignee, principal.user_id),
    )
    position = codec.decode(cursor, key) if cursor else None
    tasks, more = await crud.list_tasks(session, principal, filters, key, size, position)
    next_cursor = codec.encode(key, tasks[-1]) if more and tasks else None
    # Built and dumped once here: returning the model would have FastAPI dump, validate
    # and dump the whole page again for the response_model (which still documents it).
    page = TaskPage(items=[task_out(t) for t in tasks], next_cursor=next_cursor)
    return JSONResponse(page.model_dump(mode="json"))


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
async def task_stats(session: ReadSessionDep, principal: PrincipalDep) -> TaskStats:
    return TaskStats(**await crud.task_stats(session, principal))


@router.get(_TASK, response_model=TaskOut, responses=_NOT_FOUND, summary="Get a task")
async def get_task(
    task_id: uuid.UUID, session: ReadSessionDep, principal: PrincipalDep
) -> Response:
    task = await crud.get_task(session, principal, task_id)
    if task is None:
        raise _not_found(task_id)
    return _task_response(task)


async def _task_to_change(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID, if_match: str | None
) -> Task:
    """The task, locked for the change, after its visibility and ``If-Match`` checks."""
    task = await crud.get_task(session, principal, task_id, for_update=True)
    if task is None:
        raise _not_found(task_id)
    _check_if_match(if_match, task)
    return task


@router.patch(
    _TASK,
    response_model=TaskOut,
    summary="Update a task (If-Match honoured)",
    responses={**_NOT_FOUND, **_STALE},
)
async def update_task(
    task_id: uuid.UUID,
    body: TaskUpdate,
    session: SessionDep,
    principal: WriterDep,
    if_match: IfMatch = None,
) -> Response:
    task = await _task_to_change(session, principal, task_id, if_match)
    task = await crud.update_task(session, task, body)
    await session.commit()
    return _task_response(task)


@router.delete(
    _TASK,
    status_code=204,
    summary="Delete a task (If-Match honoured)",
    responses={**_NOT_FOUND, **_STALE},
)
async def delete_task(
    task_id: uuid.UUID,
    session: SessionDep,
    principal: WriterDep,
    if_match: IfMatch = None,
) -> Response:
    task = await _task_to_change(session, principal, task_id, if_match)
    await crud.delete_task(session, task)
    await session.commit()
    return Response(status_code=204)
