"""The one place where the queue engine's refusals become problem+json (RFC 9457)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from task_service.queue import errors
from taskplane_common.errors import problem_response, problem_type

#: Each domain error's HTTP status and problem type slug.
STATUS: dict[type[errors.QueueError], tuple[int, str]] = {
    errors.QueueNotFound: (404, "queue-not-found"),
    errors.QueueBusy: (409, "queue-busy"),
    errors.LeaseConflict: (409, "lease-conflict"),
    errors.LeaseOutOfScope: (403, "queue-forbidden"),
    errors.DedupeRace: (409, "conflict"),
    errors.DedupeConflict: (409, "dedupe-conflict"),
    errors.DeadTaskNotFound: (404, "dead-task-not-found"),
    errors.TaskNotFound: (404, "task-not-found"),
    errors.TaskFinished: (409, "task-finished"),
    errors.NotQueued: (409, "not-queued"),
    errors.FeedCursorExpired: (410, "cursor-expired"),
}


async def _queue_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.QueueError)
    status, slug = STATUS[type(exc)]
    return problem_response(
        status, str(exc), type_=problem_type(slug), extra=exc.extra, instance=request.url.path
    )


def install_queue_problems(app: FastAPI) -> None:
    app.add_exception_handler(errors.QueueError, _queue_error)
