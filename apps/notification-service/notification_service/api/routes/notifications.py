"""In-app notifications: unread first, keyset pages, read/unread."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from notification_service import crud, lists
from notification_service.api.deps import UserIdDep
from notification_service.api.routes.common import AUTH, NOT_FOUND, OwnPageDep
from notification_service.schemas import (
    NotificationOut,
    NotificationPage,
    NotificationUpdate,
    UnreadCount,
)
from taskplane_common.db import DatabaseDep
from taskplane_common.deps import SessionDep
from taskplane_common.jsonbody import read_as_json

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"], responses=AUTH)


@router.get(
    "",
    response_model=NotificationPage,
    summary="My notifications: unread first, then newest first",
)
async def list_notifications(page: OwnPageDep) -> JSONResponse:
    return await read_as_json(
        page.database, lists.notification_page, page.owner, page.size, page.cursor
    )


@router.get(
    "/unread-count",
    response_model=UnreadCount,
    summary="How many of my notifications are unread (the console's badge)",
)
async def unread_count(database: DatabaseDep, user: UserIdDep) -> JSONResponse:
    return await read_as_json(database, lists.unread_count, user)


@router.patch(
    "/{notification_id:uuid}",
    response_model=NotificationOut,
    responses=NOT_FOUND,
    summary="Mark one notification read or unread",
)
async def patch_notification(
    notification_id: uuid.UUID, body: NotificationUpdate, session: SessionDep, user: UserIdDep
) -> NotificationOut:
    note = await crud.set_read(session, user, notification_id, body.read)
    await session.commit()
    return NotificationOut.model_validate(note, from_attributes=True)
