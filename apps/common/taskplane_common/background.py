"""Background asyncio tasks a service runs beside its requests (pollers, listeners), and
the two shapes its periodic database work shares: :class:`Periodic`, a pass repeated on
an interval, and :func:`drain`, a pass made of short batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from taskplane_common.commandline import database_problem
from taskplane_common.db import Database

log = logging.getLogger(__name__)

#: One batch of a :func:`drain`: the counts of what it did in ``session``, the first one
#: compared with the batch size.
Batch = Callable[[AsyncSession], Awaitable[Mapping[str, int]]]


async def stop(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (if there is one) and wait until it has finished, so nothing it
    holds outlives the caller's shutdown."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def drain(database: Database, size: int, batch: Batch) -> dict[str, int]:
    """Run ``batch`` again and again, each time in its own short transaction, until its
    first count comes back under ``size``; the counts added up.

    Short transactions keep locks and the WAL of one batch small, and a pass cut short
    (shutdown, an outage) keeps every batch committed before it.
    """
    totals: dict[str, int] = {}
    while True:
        async with database.session() as session:
            counts = await batch(session)
        for name, count in counts.items():
            totals[name] = totals.get(name, 0) + count
        if next(iter(counts.values())) < size:
            return totals


class Periodic(ABC):
    """Runs :meth:`run_once` at start and then every ``interval_s`` until stopped.

    A failing pass is logged and retried on the next tick: a database that cannot be
    used (down, or not migrated yet) in one line naming the cause, anything else with
    its traceback, since that is a bug. The first pass runs at start, not one interval
    later: a pod that lives less than an interval (a long interval, frequent deploys)
    would otherwise never run one, while a pass with nothing to do costs one query.
    """

    name = "periodic"

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
        """Run :meth:`run` in a task of its own, until :meth:`stop`."""
        self._task = asyncio.create_task(self.run(), name=self.name)

    async def stop(self) -> None:
        await stop(self._task)
        self._task = None

    async def run(self) -> None:
        """A pass now, then one every ``interval_s``, until cancelled."""
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                problem = database_problem(exc)
                if problem is None:
                    log.exception("%s pass failed; next in %gs", self.name, self.interval_s)
                else:
                    log.warning(
                        "%s pass failed, next in %gs: %s", self.name, self.interval_s, problem
                    )
            await asyncio.sleep(self.interval_s)
