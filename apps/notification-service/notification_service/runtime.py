"""Background work started by the app's lifespan: the feed consumer, the dispatcher, the
retention cleaner and, when enabled, the feed -> SNS relay.

They run in every replica that has ``TASKPLANE_BACKGROUND_ENABLED=true``; replicas do not
step on each other (the cursor row is locked per page, deliveries are claimed with
``SKIP LOCKED`` leases).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from notification_service.config import Settings
from notification_service.consumer import FeedConsumer
from notification_service.dispatcher import Dispatcher
from notification_service.keys import SecretBox
from notification_service.peers import Peers
from notification_service.retention import retention_cleaner
from notification_service.sns_relay import SnsRelay
from taskplane_common.db import Database


class Background:
    """The consumer and dispatcher of one process, and what readiness asks of them."""

    def __init__(self, settings: Settings, database: Database, box: SecretBox) -> None:
        self.settings = settings
        self.wake = asyncio.Event()
        self.peers = Peers(settings)
        self.consumer = FeedConsumer(settings, database, self.peers, self.wake)
        self.dispatcher = Dispatcher(settings, database, self.wake, box)
        self.cleaner = retention_cleaner(settings, database)
        self.relay = (
            SnsRelay(settings, database, self.peers) if settings.sns_relay_enabled else None
        )

    async def feed_cursor_retained(self) -> bool:
        """False while the feed answers 410 Gone (see FeedConsumer)."""
        return not self.consumer.status.gone


def background_lifespan(
    background: Background | None,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if background is None:
            yield
            return
        tasks = [
            asyncio.create_task(background.consumer.run(), name="feed-consumer"),
            asyncio.create_task(background.dispatcher.run(), name="dispatcher"),
            asyncio.create_task(background.cleaner.run(), name="retention"),
        ]
        if background.relay is not None:
            tasks.append(asyncio.create_task(background.relay.run(), name="sns-relay"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await background.peers.aclose()

    return lifespan
