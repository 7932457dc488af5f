"""A queue's jobs, live and finished: ``GET /api/v1/queues/{queue}/tasks``.

``GET /api/v1/tasks`` lists plain tasks only; a queue job is read by id at
``GET /api/v1/tasks/{id}`` and listed here, newest first, with the task list's document,
visibility, page size and opaque cursor.
"""

from __future__ import annotations

from types import SimpleNamespace

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from task_service import crud, listing
from task_service.api.deps import (
    QUEUE_NOT_FOUND,
    CursorCodecDep,
    PrincipalDep,
    QueuePath,
    SettingsDep,
)
from task_service.api.routes.tasks import PageCursor, StatusFilter, refuse_unknown_params
from task_service.pagination import NEWEST_ID_FIRST
from task_service.schemas import TaskPage
from taskplane_common.db import DatabaseDep
from taskplane_common.errors import ProblemError
from taskplane_common.jsonbody import FastJSONResponse
from taskplane_common.openapi import problems
from taskplane_common.paging import PageLimit, page_size

router = APIRouter(prefix="/api/v1", tags=["queues"])

_PARAMS = frozenset({"status", "limit", "cursor"})


@router.get(
    "/queues/{queue}/tasks",
    response_model=TaskPage,
    summary="A queue's jobs, live and finished, newest first (keyset pagination)",
    responses={
        **QUEUE_NOT_FOUND,
        **problems(
            400,
            403,
            s400="The cursor is invalid, altered or from another list",
            s403="The token is bound to another queue",
        ),
    },
)
async def list_queue_tasks(
    queue: QueuePath,
    principal: PrincipalDep,
    codec: CursorCodecDep,
    request: Request,
    settings: SettingsDep,
    database: DatabaseDep,
    status: StatusFilter = None,
    limit: PageLimit = None,
    cursor: PageCursor = None,
) -> JSONResponse:
    """Admins see every job; anyone else the jobs they enqueued (a queue-bound token only
    its own queue's)."""
    refuse_unknown_params(request, _PARAMS)
    principal.check_queue(queue)
    size = page_size(settings, limit)
    after = codec.decode(cursor, NEWEST_ID_FIRST)[1] if cursor else None
    async with database.driver() as db:
        page = await listing.list_queue_tasks(db, principal, queue, status or (), size, after)
    if page is None:
        raise ProblemError(404, f"queue {queue!r} does not exist", slug="queue-not-found")
    jobs, more = page
    next_cursor = codec.encode(NEWEST_ID_FIRST, SimpleNamespace(**jobs[-1])) if more else None
    items = [crud.task_document(job) for job in jobs]
    return FastJSONResponse({"items": items, "next_cursor": next_cursor})
