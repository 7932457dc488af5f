"""Background machinery of the queue engine, started by the app's lifespan: the
LISTEN/NOTIFY listener that wakes long-polls and the maintenance services
(``task_service.queue.maintenance``); the hot routes' pool is closed with it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from task_service.config import Settings
from task_service.queue.maintenance.cleaner import Cleaner
from task_service.queue.maintenance.rescuer import Rescuer
from task_service.queue.maintenance.stats import StatsRefresher
from task_service.queue.notify import Notifier
from task_service.queue.pool import QueuePool
from task_service.queue.pool import conninfo as listen_conninfo
from taskplane_common.background import Periodic
from taskplane_common.db import Database

__all__ = ["listen_conninfo", "maintenance_services", "queue_lifespan"]


def maintenance_services(settings: Settings, database: Database) -> list[Periodic]:
    """Every maintenance service, configured from the settings."""
    return [
        Rescuer(database, settings.reaper_interval_s, settings.reaper_batch),
        StatsRefresher(database, settings.queue_metrics_interval_s),
        Cleaner(
            database,
            settings.cleaner_interval_s,
            settings.cleaner_batch,
            settings.event_retention_s,
        ),
    ]


def queue_lifespan(
    settings: Settings,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """The task-service lifespan: start the listener and the maintenance services."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        notifier: Notifier = app.state.notifier
        notifier.start()
        services = maintenance_services(settings, app.state.database)
        for service in services:
            service.start()
        try:
            yield
        finally:
            for service in services:
                await service.stop()
            await notifier.stop()
            await QueuePool.of(app).close()

    return lifespan
