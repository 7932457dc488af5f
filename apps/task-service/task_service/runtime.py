"""Background machinery of the queue engine, started by the app's lifespan.

* the LISTEN/NOTIFY listener that wakes long-polls,
* the reaper that takes back expired leases of every queue (leases also reclaim their
  own queue lazily, so expiry is prompt even between reaper passes),
* the refresher behind the ``taskplane_queue_*`` Prometheus metrics: a scrape reads a
  snapshot instead of querying the database on the scrape's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import REGISTRY, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import make_url

from task_service import queues
from task_service.config import Settings
from task_service.notify import Notifier
from task_service.queue_schemas import QueueStats
from taskplane_common.db import Database

log = logging.getLogger(__name__)

LEASE_LATENCY = Histogram(
    "taskplane_queue_lease_latency_seconds",
    "Time a task waited between becoming available and being leased.",
    ["queue"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
ACK_LATENCY = Histogram(
    "taskplane_queue_ack_latency_seconds",
    "Time between a lease and its complete/fail/release.",
    ["queue", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)


class QueueMetricsCollector(Collector):
    """Exposes the last stats snapshot as ``taskplane_queue_*`` series."""

    def __init__(self) -> None:
        self.snapshot: dict[str, QueueStats] = {}

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        gauges = {
            "available": "Tasks available to lease now.",
            "in_flight": "Tasks leased and not yet finished.",
            "scheduled": "Tasks waiting for their run_at.",
            "retrying": "Tasks waiting for their retry backoff.",
            "dead": "Dead-lettered tasks.",
            "oldest_available_age_seconds": "Age of the oldest available task.",
        }
        counters = {
            "completed": "Tasks completed.",
            "failed": "Failed attempts (reported failures and expired leases).",
        }
        families: list[GaugeMetricFamily | CounterMetricFamily] = []
        for name, doc in gauges.items():
            gauge = GaugeMetricFamily(f"taskplane_queue_{name}", doc, labels=["queue"])
            field = "oldest_available_age_s" if name.startswith("oldest") else name
            for queue, stats in self.snapshot.items():
                gauge.add_metric([queue], float(getattr(stats, field)))
            families.append(gauge)
        for name, doc in counters.items():
            counter = CounterMetricFamily(f"taskplane_queue_{name}", doc, labels=["queue"])
            for queue, stats in self.snapshot.items():
                counter.add_metric([queue], float(getattr(stats, f"{name}_total")))
            families.append(counter)
        return families


#: One per process: the registry is global, apps built in tests share it.
COLLECTOR = QueueMetricsCollector()
REGISTRY.register(COLLECTOR)


def listen_conninfo(settings: Settings) -> str:
    """The libpq URL psycopg wants, from whatever DATABASE_URL spelling was given."""
    assert settings.database_url is not None
    url = make_url(settings.database_url.get_secret_value()).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def _every(interval_s: float, name: str, step: Callable[[], Awaitable[None]]) -> None:
    """Run ``step`` forever; a failing pass (database down) is logged and retried."""
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s pass failed: %s", name, type(exc).__name__)
        await asyncio.sleep(interval_s)


async def reap_once(database: Database, batch: int) -> int:
    """Reclaim expired leases until none are left; returns how many were reclaimed."""
    total = 0
    while True:
        async with database.session() as session:
            reclaimed = await queues.reclaim_expired(session, batch)
        total += reclaimed
        if reclaimed < batch:
            return total


async def refresh_metrics(database: Database) -> None:
    async with database.session() as session:
        COLLECTOR.snapshot = await queues.queue_stats(session)


def queue_lifespan(
    settings: Settings,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """The task-service lifespan: start the listener, reaper and metrics refresher."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database: Database = app.state.database
        notifier: Notifier = app.state.notifier
        notifier.start()

        async def reap() -> None:
            await reap_once(database, settings.reaper_batch)

        async def refresh() -> None:
            await refresh_metrics(database)

        tasks = [
            asyncio.create_task(_every(settings.reaper_interval_s, "reaper", reap)),
            asyncio.create_task(_every(settings.queue_metrics_interval_s, "metrics", refresh)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await notifier.stop()

    return lifespan
