"""The shape every maintenance service shares: a pass, repeated on an interval."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod

from taskplane_common import background
from taskplane_common.db import Database

log = logging.getLogger(__name__)


class MaintenanceService(ABC):
    """Runs ``run_once`` every ``interval_s`` until stopped; a failing pass (the database
    is down) is logged and retried on the next tick."""

    name = "maintenance"

    def __init__(self, database: Database, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError(f"{self.name}: interval_s must be positive")
        self.database = database
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def run_once(self) -> None:
        """One pass."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        await background.stop(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s pass failed: %s", self.name, type(exc).__name__)
            await asyncio.sleep(self.interval_s)
