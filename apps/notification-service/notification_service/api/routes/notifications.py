"""In-app notifications: unread first, keyset pages, read/unread."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from notification_service import crud
from notification_service.api.deps import SessionDep, SettingsDep, UserIdDep
from notification_service.api.routes.common import AUTH, NOT_FOUND, PageCursor, page_size
from notification_service.schemas import NotificationOut, NotificationPage, NotificationUpdate
from taskplane_common.paging import PageLimit

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


@router.get(
    "",
    response_model=NotificationPage,
    responses=AUTH,
    summary="My notifications: unread first, then newest first",
)
async def list_notifications(
    session: SessionDep,
    settings: SettingsDep,
    user: UserIdDep,
    limit: PageLimit = None,
    cursor: PageCursor = None,
) -> NotificationPage:
    rows, next_cursor = await crud.notification_page(
        session, user, page_size(settings, limit), cursor
    )
    return NotificationPage(
        items=[NotificationOut.model_validate(n, from_attributes=True) for n in rows],
        next_cursor=next_cursor,
    )


@router.patch(
    "/{notification_id}",
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
