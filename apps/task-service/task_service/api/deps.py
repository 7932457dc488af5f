"""Dependencies of the task-service routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy.ext.asyncio import AsyncSession

from task_service.config import Settings
from task_service.pagination import CursorCodec
from task_service.queue.notify import Notifier
from taskplane_client.models import QUEUE_NAME_PATTERN
from taskplane_common.db import request_read_session, request_session
from taskplane_common.deps import app_state
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


SessionDep = Annotated[AsyncSession, Depends(request_session)]
#: Routes that only read: autocommit, no transaction round trips.
ReadSessionDep = Annotated[AsyncSession, Depends(request_read_session)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
#: Every route that changes a task: viewers (and role-less service tokens) get 403.
WriterDep = Annotated[Principal, Depends(require_writer)]
CursorCodecDep = Annotated[CursorCodec, Depends(get_cursor_codec)]
NotifierDep = Annotated[Notifier, Depends(app_state("notifier"))]
QueueWorkerDep = Annotated[Principal, Depends(require_scope("queues:work"))]
QueueAdminDep = Annotated[Principal, Depends(require_scope("queues:admin"))]
EventReaderDep = Annotated[Principal, Depends(require_scope("events:read"))]
#: Enqueue: people who may write, or services holding ``queues:work`` (follow-up tasks).
EnqueuerDep = Annotated[Principal, Depends(require_writer_or_scope("queues:work"))]
#: Cancel: people who may write (their own tasks), or services holding ``queues:admin``.
CancellerDep = Annotated[Principal, Depends(require_writer_or_scope("queues:admin"))]

QueuePath = Annotated[str, Path(pattern=QUEUE_NAME_PATTERN, description="Queue name")]
#: The 404 every route under ``/queues/{queue}`` can answer, for the OpenAPI document.
QUEUE_NOT_FOUND = problems(404, s404="No such queue")
