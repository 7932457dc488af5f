"""The feed consumer: task events in, notifications and outbox rows out, nothing lost.

One page of the feed (``feed``) is routed (``routing``: recipients and their preferences
from the user-service, before any transaction opens), then ONE transaction stores
everything the page causes (``outbox``) and moves the cursor past it. A crash before the
commit re-reads the same page; a crash after it starts after it. Every row is also unique
per event id, so a page seen twice (two replicas, a retried commit) stores nothing twice.

A 410 Gone from the feed means the cursor fell out of the feed's retained window: events
were lost to this consumer. It is never skipped: the consumer stops, logs an error on
every retry, sets ``taskplane_notification_feed_cursor_expired`` and fails ``/readyz``
until an operator moves the cursor (see the README).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, update

from notification_service import metrics
from notification_service.config import Settings
from notification_service.consumer import outbox, routing
from notification_service.consumer.feed import START, keep_stepping, read_page, stored_cursor
from notification_service.models import ConsumerState
from notification_service.recipients import Recipients
from taskplane_client import AsyncTaskplaneClient
from taskplane_common.db import Database

log = logging.getLogger(__name__)

CONSUMER = "task-events"


@dataclass
class FeedStatus:
    """What ``/readyz`` and the logs say about the feed."""

    gone: bool = False
    detail: str = ""
    cursor: str = START


@dataclass
class FeedConsumer:
    """Follows the feed a page at a time; sets ``wake`` after each page it commits."""

    settings: Settings
    database: Database
    feed: AsyncTaskplaneClient
    recipients: Recipients
    wake: asyncio.Event
    status: FeedStatus = field(default_factory=FeedStatus)

    async def run(self) -> None:
        await keep_stepping(self.step, "event feed", self.settings.feed_retry_s, self._gone)

    def _gone(self, detail: str) -> None:
        self.status.gone = True
        self.status.detail = detail
        metrics.FEED_CURSOR_EXPIRED.set(1)
        metrics.FEED_ERRORS.labels("gone").inc()
        log.error(
            "EVENT FEED CURSOR EXPIRED: the task-service no longer retains events after "
            "cursor %s (%s). Notifications for the missing events are LOST; nothing is "
            "skipped automatically. Move the cursor deliberately (README: 'Cursor expired').",
            self.status.cursor,
            detail,
        )

    async def load_cursor(self) -> str:
        cursor = await stored_cursor(self.database, CONSUMER)
        self.status.cursor = cursor
        return cursor

    async def step(self) -> int:
        """Read one page after the stored cursor and commit what it causes."""
        cursor = await self.load_cursor()
        events = await read_page(self.feed, self.settings, cursor)
        if self.status.gone:
            log.warning("event feed answers again after cursor %s", cursor)
        self.status.gone = False
        metrics.FEED_CURSOR_EXPIRED.set(0)
        metrics.CONSUMER_LAG_EVENTS.set(len(events))
        oldest = (datetime.now(UTC) - events[0].occurred_at).total_seconds() if events else 0
        metrics.CONSUMER_LAG_SECONDS.set(max(0.0, oldest))
        if not events:
            return 0
        plans = await routing.plan(self.database, self.recipients, events)
        async with self.database.session() as session:
            stored = (
                await session.execute(
                    select(ConsumerState.cursor)
                    .where(ConsumerState.name == CONSUMER)
                    .with_for_update()
                )
            ).scalar_one()
            if stored != cursor:
                return 0  # another replica committed this page first
            await outbox.store(session, self.settings, plans)
            await session.execute(
                update(ConsumerState)
                .where(ConsumerState.name == CONSUMER)
                .values(cursor=events[-1].cursor, updated_at=datetime.now(UTC))
            )
        self.status.cursor = events[-1].cursor
        metrics.EVENTS_CONSUMED.inc(len(events))
        metrics.CONSUMER_LAG_EVENTS.set(0)
        metrics.CONSUMER_LAG_SECONDS.set(0)
        self.wake.set()
        return len(events)
