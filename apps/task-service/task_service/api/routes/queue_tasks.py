"""A queue's jobs, live and finished: ``GET /api/v1/queues/{queue}/tasks``.

``GET /api/v1/tasks`` lists plain tasks only; a queue job is read by id at
``GET /api/v1/tasks/{id}`` and listed here, newest first, with the task list's document,
visibility, page size and opaque cursor.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from task_service import listing as lists
from task_service.api.deps import QUEUE_NOT_FOUND, QueuePath, TaskListingDep
from task_service.api.routes.tasks import StatusFilter
from task_service.pagination import NEWEST_ID_FIRST
from task_service.schemas import TaskPage
from taskplane_common.errors import ProblemError
from taskplane_common.openapi import problems

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
    queue: QueuePath, listing: TaskListingDep, status: StatusFilter = None
) -> JSONResponse:
    """Admins see every job; anyone else the jobs they enqueued (a queue-bound token only
    its own queue's)."""
    listing.refuse_unknown_params(_PARAMS)
    listing.principal.check_queue(queue)
    position = listing.position(NEWEST_ID_FIRST)
    after = position[1] if position else None
    async with listing.database.driver() as db:
        page = await lists.list_queue_tasks(
            db, listing.principal, queue, status or (), listing.size, after
        )
    if page is None:
        raise ProblemError(404, f"queue {queue!r} does not exist", slug="queue-not-found")
    return listing.page(NEWEST_ID_FIRST, *page)
