"""The user-service ASGI application."""

from __future__ import annotations

from fastapi import FastAPI

from taskplane_common.app import create_app
from taskplane_common.db import Database
from user_service import __version__
from user_service.api.routes import users
from user_service.config import Settings, get_settings


def build_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_app(
        settings=settings,
        title="taskplane user-service",
        version=__version__,
        routers=[users.router],
        database=Database(settings),
    )
