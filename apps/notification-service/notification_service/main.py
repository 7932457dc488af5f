"""The notification-service ASGI application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from notification_service import __version__
from notification_service.api.routes import notifications, webhooks
from notification_service.config import Settings, get_settings
from notification_service.keys import SecretBox, build_kek
from notification_service.models import AUDIT_LOG
from notification_service.runtime import Background, background_lifespan
from taskplane_common.app import create_app
from taskplane_common.db import Database


def build_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = Database(settings)
    box = SecretBox(build_kek(settings))
    background = Background(settings, database, box) if settings.background_enabled else None
    checks: dict[str, Callable[[], Awaitable[bool]]] = (
        {"feed_cursor_retained": background.feed_cursor_retained} if background else {}
    )
    app = create_app(
        settings=settings,
        title="taskplane notification-service",
        version=__version__,
        routers=[webhooks.router, notifications.router],
        database=database,
        lifespan=background_lifespan(background),
        extra_ready_checks=checks,
        audit_table=AUDIT_LOG,
    )
    app.state.background = background
    app.state.secret_box = box
    return app
