"""The stats refresher: keeps the snapshot behind the ``taskplane_queue_*`` metrics, so
a scrape never queries the database on the scrape's clock."""

from __future__ import annotations

from task_service.queue.metrics import COLLECTOR
from task_service.queue.registry import queue_stats
from taskplane_common.background import Periodic


class StatsRefresher(Periodic):
    name = "stats"

    async def run_once(self) -> None:
        async with self.database.session() as session:
            COLLECTOR.snapshot = await queue_stats(session)
