"""The task-service ASGI application."""

from __future__ import annotations

from fastapi import FastAPI
from taskplane_common.app import create_app
from taskplane_common.db import Database

from task_service import __version__
from task_service.api.routes import tasks
from task_service.config import Settings, get_settings


def build_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_app(
        settings=settings,
        title="taskplane task-service",
        version=__version__,
        routers=[tasks.router],
        database=Database(settings),
    )
