"""The task-service ASGI application."""

from __future__ import annotations

from fastapi import FastAPI

from task_service import __version__
from task_service.api.problems import install_queue_problems
from task_service.api.routes import events, leases, queue_tasks, queues, tasks
from task_service.config import Settings, get_settings
from task_service.models import AUDIT_LOG
from task_service.queue.lifespan import listen_conninfo, queue_lifespan
from task_service.queue.notify import Notifier
from taskplane_common.app import create_app
from taskplane_common.db import Database


def build_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_app(
        settings=settings,
        title="taskplane task-service",
        version=__version__,
        routers=[tasks.router, queues.router, queue_tasks.router, leases.router, events.router],
        database=Database(settings),
        lifespan=queue_lifespan(settings),
        audit_table=AUDIT_LOG,
    )
    app.state.notifier = Notifier(listen_conninfo(settings), settings.poll_interval_s)
    install_queue_problems(app)
    return app
