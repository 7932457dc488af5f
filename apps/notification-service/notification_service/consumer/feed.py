"""The task-service event feed, read through ``taskplane_client``, and where its readers
keep their place.

Both followers (the feed consumer and the SNS relay) read pages after a cursor persisted
in ``notifications.consumer_state`` under their own name, and step forever: a failed step
is counted and tried again from the same cursor, nothing is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from notification_service import metrics
from notification_service.config import Settings
from notification_service.models import ConsumerState
from taskplane_client import AsyncTaskplaneClient
from taskplane_client.errors import ApiError
from taskplane_client.models import Event
from taskplane_client.transport import NO_RETRY
from taskplane_common.db import Database

log = logging.getLogger(__name__)

#: The feed's start, where a new follower begins.
START = "0-0"


class FeedGoneError(RuntimeError):
    """410: the cursor is older than what the feed still retains."""


def feed_client(settings: Settings, auth: httpx.Auth | None) -> AsyncTaskplaneClient:
    """The client for ``GET /api/v1/events``. No retries of its own: a failed read is the
    follower's failed step, retried after ``TASKPLANE_FEED_RETRY_S``."""
    return AsyncTaskplaneClient(
        settings.task_service_url,
        auth=auth,
        retry=NO_RETRY,
        timeout_s=settings.peer_timeout_s,
        user_agent="taskplane-notification-service",
    )


async def read_page(client: AsyncTaskplaneClient, settings: Settings, after: str) -> list[Event]:
    """The events after ``after`` (a long-poll of ``TASKPLANE_FEED_WAIT_S``)."""
    try:
        page = await client.events(
            after, wait_s=settings.feed_wait_s, limit=settings.feed_page_size
        )
    except ApiError as exc:
        if exc.status == 410:
            raise FeedGoneError(exc.detail[:500]) from exc
        raise
    return page.items


async def stored_cursor(database: Database, follower: str) -> str:
    """The persisted cursor of ``follower`` (created at the feed's start)."""
    async with database.session() as session:
        await session.execute(
            pg_insert(ConsumerState)
            .values(name=follower, cursor=START)
            .on_conflict_do_nothing(index_elements=[ConsumerState.name])
        )
        cursor: str = (
            await session.execute(
                select(ConsumerState.cursor).where(ConsumerState.name == follower)
            )
        ).scalar_one()
    return cursor


async def keep_stepping(
    step: Callable[[], Awaitable[object]],
    name: str,
    retry_s: float,
    on_gone: Callable[[str], None] | None = None,
) -> None:
    """Run a feed follower's step forever. A failed step is counted, logged and tried
    again after ``retry_s`` from the same cursor (nothing is skipped); an expired cursor
    goes to ``on_gone`` when given."""
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, FeedGoneError) and on_gone is not None:
                on_gone(str(exc))
            else:
                metrics.FEED_ERRORS.labels(type(exc).__name__).inc()
                log.warning("%s step failed: %s: %s", name, type(exc).__name__, exc)
            await asyncio.sleep(retry_s)
