"""Dependencies of the task-service routes, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from task_service import crud
from task_service.config import Settings
from task_service.pagination import CURSOR_PATTERN, CursorCodec, SortKey
from task_service.queue.notify import Notifier
from task_service.queue.pool import QueueConnectionDep
from taskplane_client.models import QUEUE_NAME_PATTERN
from taskplane_common.db import Database, DatabaseDep, Row, request_read_session
from taskplane_common.deps import Audited, PageRequest, app_state, audited, page_request
from taskplane_common.errors import ProblemError
from taskplane_common.jsonbody import FastJSONResponse
from taskplane_common.openapi import problems
from taskplane_common.principals import (
    Principal,
    current_principal,
    require_scope,
    require_writer,
    require_writer_or_scope,
)

SettingsDep = Annotated[Settings, Depends(app_state("settings"))]


async def get_cursor_codec(settings: SettingsDep) -> CursorCodec:
    return CursorCodec(settings.cursor_secret.get_secret_value().encode())


#: Routes that only read: autocommit, no transaction round trips.
ReadSessionDep = Annotated[AsyncSession, Depends(request_read_session)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
#: Every route that changes a task: viewers (and role-less service tokens) get 403.
WriterDep = Annotated[Principal, Depends(require_writer)]
CursorCodecDep = Annotated[CursorCodec, Depends(get_cursor_codec)]
NotifierDep = Annotated[Notifier, Depends(app_state("notifier"))]
_queue_worker = require_scope("queues:work")
_queue_admin = require_scope("queues:admin")
QueueWorkerDep = Annotated[Principal, Depends(_queue_worker)]
QueueAdminDep = Annotated[Principal, Depends(_queue_admin)]
#: A change to a queue or its dead letters, audited with the queue admin as its actor.
QueueChangeDep = Annotated[Audited, Depends(audited(_queue_admin))]
EventReaderDep = Annotated[Principal, Depends(require_scope("events:read"))]
#: Enqueue: people who may write, or services holding ``queues:work`` (follow-up tasks).
EnqueuerDep = Annotated[Principal, Depends(require_writer_or_scope("queues:work"))]
#: Cancel: people who may write (their own tasks), or services holding ``queues:admin``.
CancellerDep = Annotated[Principal, Depends(require_writer_or_scope("queues:admin"))]

QueuePath = Annotated[str, Path(pattern=QUEUE_NAME_PATTERN, description="Queue name")]
#: The 404 every route under ``/queues/{queue}`` can answer, for the OpenAPI document.
QUEUE_NOT_FOUND = problems(404, s404="No such queue")


@dataclass(frozen=True)
class Worker:
    """What every lease action works with: a pooled connection (one statement each),
    the settings, and the worker's principal (a queue-bound token reaches its own
    queue's leases only)."""

    connection: psycopg.AsyncConnection[Any]
    settings: Settings
    principal: Principal

    @property
    def queue_scope(self) -> str | None:
        """The one queue a queue-bound token acts on (``None``: any)."""
        return self.principal.queue


async def lease_worker(
    connection: QueueConnectionDep, settings: SettingsDep, principal: QueueWorkerDep
) -> Worker:
    return Worker(connection, settings, principal)


WorkerDep = Annotated[Worker, Depends(lease_worker)]


#: A task list's cursor: opaque and signed (one the service did not write for this list
#: is a 400).
_TASK_CURSOR = Query(
    pattern=CURSOR_PATTERN,
    max_length=1024,
    description="`next_cursor` of the previous page of this list (with the same `sort`)",
)
TaskPageDep = Annotated[PageRequest, Depends(page_request(_TASK_CURSOR))]


@dataclass(frozen=True)
class TaskListing:
    """A page of a task list asked for (``GET /tasks``, ``GET /queues/{queue}/tasks``):
    who asks, the page's size and cursor, and what reads and signs the page."""

    request: Request
    principal: Principal
    database: Database
    codec: CursorCodec
    requested: PageRequest

    def refuse_unknown_params(self, allowed: frozenset[str]) -> None:
        """A 422 for a query parameter the list does not know (a misspelt filter would
        otherwise list everything)."""
        unknown = sorted(set(self.request.query_params) - allowed)
        if unknown:
            raise ProblemError(
                422,
                f"unknown query parameter(s): {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(allowed))}",
                slug="unknown-query-parameter",
            )

    def position(self, key: SortKey) -> tuple[Any, Any] | None:
        """Where the page starts in the ``key`` order (after the cursor's task)."""
        return self.codec.decode(self.cursor, key) if self.cursor else None

    @property
    def size(self) -> int:
        return self.requested.size

    @property
    def cursor(self) -> str | None:
        return self.requested.cursor

    def page(self, key: SortKey, tasks: Sequence[Row], more: bool) -> JSONResponse:
        """The page's body, its rows to JSON once (returning the model would have FastAPI
        build, validate and dump the whole page again for the ``response_model``, which
        still documents it)."""
        next_cursor = (
            self.codec.encode(key, SimpleNamespace(**tasks[-1])) if more and tasks else None
        )
        items = [crud.task_document(task) for task in tasks]
        return FastJSONResponse({"items": items, "next_cursor": next_cursor})


async def task_listing(
    request: Request,
    principal: PrincipalDep,
    database: DatabaseDep,
    codec: CursorCodecDep,
    page: TaskPageDep,
) -> TaskListing:
    return TaskListing(request, principal, database, codec, page)


TaskListingDep = Annotated[TaskListing, Depends(task_listing)]
