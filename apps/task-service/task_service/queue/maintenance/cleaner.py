"""The cleaner: retention, so no table grows forever.

Each pass deletes, batch by batch (``batch`` rows per statement and transaction, rows
someone holds skipped with ``SKIP LOCKED``, never waited for): queued tasks finished
longer ago than their queue keeps them (completed, cancelled, dead: 1, 7 and 30 days
unless configured), events older than the feed's retention (a prefix of the feed, so a
reader behind it gets 410 instead of a silent gap), and expired idempotency keys.
"""

from __future__ import annotations

from task_service.queue import statements
from task_service.queue.driver import Statement, execute
from task_service.queue.maintenance.service import MaintenanceService
from task_service.queue.metrics import CLEANER_DELETED
from taskplane_common.db import Database


class Cleaner(MaintenanceService):
    name = "cleaner"

    def __init__(
        self, database: Database, interval_s: float, batch: int, event_retention_s: int
    ) -> None:
        super().__init__(database, interval_s)
        if batch < 1 or event_retention_s < 1:
            raise ValueError("cleaner: batch and event_retention_s must be at least 1")
        self.batch = batch
        self.event_retention_s = event_retention_s

    async def run_once(self) -> None:
        await self.clean_all()

    async def clean_all(self) -> dict[str, int]:
        """Delete everything past retention; returns the rows deleted per table."""
        return {
            "tasks": await self._drain("tasks", statements.CLEAN_TASKS, {}),
            "events": await self._drain(
                "events", statements.CLEAN_EVENTS, {"retention_s": self.event_retention_s}
            ),
            "idempotency_keys": await self._drain(
                "idempotency_keys", statements.CLEAN_IDEMPOTENCY_KEYS, {}
            ),
        }

    async def _drain(self, table: str, statement: Statement, params: dict[str, int]) -> int:
        """Run ``statement`` batch after batch, each its own short transaction."""
        total = 0
        while True:
            async with self.database.session() as session:
                rows = await execute(session, statement, {**params, "batch": self.batch})
                deleted = int(rows[0]["deleted"])
            CLEANER_DELETED.labels(table).inc(deleted)
            total += deleted
            if deleted < self.batch:
                return total
