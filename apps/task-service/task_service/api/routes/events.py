"""The event feed: ``GET /api/v1/events?after=<cursor>&wait_s=&limit=``."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from task_service.api.deps import EventReaderDep, NotifierDep, SettingsDep
from task_service.queue.feed import (
    EVENT_CURSOR_PATTERN,
    START,
    check_retained,
    parse_cursor,
    read_events,
)
from task_service.queue.notify import EVENTS_CHANNEL
from task_service.queue.schemas import EventOut, EventPage
from taskplane_common.deps import SessionDep
from taskplane_common.openapi import problems

router = APIRouter(prefix="/api/v1/events", tags=["events"])


@router.get(
    "",
    response_model=EventPage,
    responses=problems(410, s410="Retention deleted events after this cursor"),
    summary="Events after a cursor, in order (long-poll)",
)
async def list_events(
    session: SessionDep,
    settings: SettingsDep,
    notifier: NotifierDep,
    _: EventReaderDep,
    after: Annotated[
        str | None,
        Query(
            pattern=EVENT_CURSOR_PATTERN,
            description="A cursor from a previous page; omit to start at the oldest kept",
        ),
    ] = None,
    wait_s: Annotated[float, Query(ge=0, description="Long-poll up to this long")] = 0.0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPage:
    position = parse_cursor(after)
    if after is not None:
        await check_retained(session, position)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(wait_s, settings.max_wait_s)
    while True:
        events = await read_events(session, position, limit)
        await session.commit()
        remaining = deadline - loop.time()
        if events or remaining <= 0:
            break
        await notifier.wait(EVENTS_CHANNEL, "", remaining)
    return EventPage(
        items=[EventOut(**vars(event)) for event in events],
        next_cursor=events[-1].cursor if events else after or START,
    )
