"""The cleaner: retention, so no table grows forever.

Each pass deletes, batch by batch (``batch`` rows per statement and transaction, rows
someone holds skipped with ``SKIP LOCKED``, never waited for): queued tasks finished
longer ago than their queue keeps them (completed, cancelled, dead: 1, 7 and 30 days
unless configured), events older than the feed's retention (a prefix of the feed, so a
reader behind it gets 410 instead of a silent gap), and expired idempotency keys. It is
every service's ``RetentionCleaner`` (``taskplane_common.retention``), its rules the
queue catalogue's statements.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from task_service.queue import statements
from task_service.queue.driver import Statement, execute
from task_service.queue.metrics import CLEANER_DELETED
from taskplane_common.db import Database
from taskplane_common.retention import RetentionCleaner


@dataclass(frozen=True)
class CatalogueRule:
    """A retention statement of the queue's catalogue: deletes at most ``:batch`` rows of
    ``table`` and answers how many as ``deleted``."""

    table: str
    statement: Statement
    params: Mapping[str, int]

    async def __call__(self, session: AsyncSession, batch: int) -> Mapping[str, int]:
        rows = await execute(session, self.statement, {**self.params, "batch": batch})
        return {self.table: int(rows[0]["deleted"])}


class Cleaner(RetentionCleaner):
    name = "cleaner"

    def __init__(
        self, database: Database, interval_s: float, batch: int, event_retention_s: int
    ) -> None:
        if event_retention_s < 1:
            raise ValueError("cleaner: event_retention_s must be at least 1")
        rules = [
            CatalogueRule("tasks", statements.CLEAN_TASKS, {}),
            CatalogueRule("events", statements.CLEAN_EVENTS, {"retention_s": event_retention_s}),
            CatalogueRule("idempotency_keys", statements.CLEAN_IDEMPOTENCY_KEYS, {}),
        ]
        super().__init__(
            database, rules, interval_s=interval_s, batch=batch, deleted=CLEANER_DELETED
        )
