"""The rescuer: takes back tasks whose lease expired (the worker died or hung).

Leases also rescue their own queue lazily (``leases.lease``), so expiry is prompt even
between passes; the rescuer covers queues nobody is leasing from.
"""

from __future__ import annotations

from task_service.queue import statements
from task_service.queue.counters import counter_shard
from task_service.queue.driver import Executor, execute
from task_service.queue.metrics import RESCUED
from task_service.queue.notify import QUEUE_CHANNEL
from taskplane_common.background import Periodic, drain
from taskplane_common.db import Database

LEASE_EXPIRED_ERROR = "lease expired before the worker reported back"


async def rescue_expired(session: Executor, limit: int, *, queue: str | None = None) -> int:
    """Take back up to ``limit`` expired leases (of ``queue``, or every queue): each
    counts as a failed attempt; returns how many were taken back."""
    params = {
        "queue": queue,
        "limit": limit,
        "error": LEASE_EXPIRED_ERROR,
        "retryable": True,
        "shard": counter_shard(),
        "channel": QUEUE_CHANNEL,
    }
    rescued = int((await execute(session, statements.RESCUE, params))[0]["rescued"])
    RESCUED.inc(rescued)
    return rescued


class Rescuer(Periodic):
    name = "rescuer"

    def __init__(self, database: Database, interval_s: float, batch: int) -> None:
        super().__init__(database, interval_s)
        if batch < 1:
            raise ValueError("rescuer: batch must be at least 1")
        self.batch = batch

    async def run_once(self) -> None:
        await self.rescue_all()

    async def rescue_all(self) -> int:
        """Rescue batch after batch until none are left; returns how many."""

        async def batch(session: Executor) -> dict[str, int]:
            return {"rescued": await rescue_expired(session, self.batch)}

        return (await drain(self.database, self.batch, batch))["rescued"]
