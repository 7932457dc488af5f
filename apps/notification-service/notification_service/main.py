"""The service's entry point: the ASGI application (``python -m notification_service
serve`` builds it) and the background work its lifespan runs in every replica with
``TASKPLANE_BACKGROUND_ENABLED=true``: the feed consumer, the dispatcher, the retention
cleaner and, when enabled, the feed -> SNS relay.

Replicas do not step on each other: the cursor row is locked per page, deliveries are
claimed with ``SKIP LOCKED`` leases.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from notification_service import __version__
from notification_service.api.routes import notifications, webhooks
from notification_service.config import Settings, get_settings
from notification_service.consumer.feed import feed_client
from notification_service.consumer.feed_consumer import FeedConsumer
from notification_service.consumer.sns_relay import SnsRelay
from notification_service.delivery.dispatcher import Dispatcher
from notification_service.keys import SecretBox, build_kek
from notification_service.models import AUDIT_LOG
from notification_service.recipients import Recipients
from notification_service.retention import retention_cleaner
from taskplane_common.app import create_app
from taskplane_common.db import Database


class Background:
    """The background work of one process, and what readiness asks of it."""

    def __init__(self, settings: Settings, database: Database, box: SecretBox) -> None:
        auth = settings.peer_auth()
        self.wake = asyncio.Event()
        self.feed = feed_client(settings, auth)
        self.recipients = Recipients(settings, auth)
        self.consumer = FeedConsumer(settings, database, self.feed, self.recipients, self.wake)
        self.dispatcher = Dispatcher(settings, database, self.wake, box)
        self.cleaner = retention_cleaner(settings, database)
        self.relay = SnsRelay(settings, database, self.feed) if settings.sns_relay_enabled else None

    async def feed_cursor_retained(self) -> bool:
        """False while the feed answers 410 Gone (see FeedConsumer)."""
        return not self.consumer.status.gone

    async def aclose(self) -> None:
        await self.feed.aclose()
        await self.recipients.aclose()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(self.consumer.run(), name="feed-consumer"),
            asyncio.create_task(self.dispatcher.run(), name="dispatcher"),
            asyncio.create_task(self.cleaner.run(), name="retention"),
        ]
        if self.relay is not None:
            tasks.append(asyncio.create_task(self.relay.run(), name="sns-relay"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.aclose()


def build_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = Database(settings)
    box = SecretBox(build_kek(settings))
    background = Background(settings, database, box) if settings.background_enabled else None
    checks: dict[str, Callable[[], Awaitable[bool]]] = (
        {"feed_cursor_retained": background.feed_cursor_retained} if background else {}
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if background is None:
            yield
            return
        async with background.running():
            yield

    app = create_app(
        settings=settings,
        title="taskplane notification-service",
        version=__version__,
        routers=[webhooks.router, webhooks.deliveries_router, notifications.router],
        database=database,
        lifespan=lifespan,
        extra_ready_checks=checks,
        audit_table=AUDIT_LOG,
    )
    app.state.background = background
    app.state.secret_box = box
    return app
