"""Plain psycopg connections for the queue's hot routes (lease, heartbeat, complete).

Those routes run one fixed statement each (``driver``), so an ORM session only costs
them CPU: this pool hands out autocommit psycopg connections instead (each statement is
atomic by itself). A long-poll takes a connection per claim, never across its wait.

Failures read as the session path's do: a pool timeout while every connection exists
and is in use is 503 ``database-busy``, with connections missing (they cannot be made)
it is the database being unavailable (503 ``database-unavailable``); after a connection broke, the
pool checks its idle ones so the next requests do not meet the same dead sockets.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import psycopg
from fastapi import Depends, FastAPI, Request
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy.engine import make_url
from sqlalchemy.exc import TimeoutError as PoolBusyError

from task_service.config import Settings
from taskplane_common.metrics import DB_STATEMENT_LATENCY


def conninfo(settings: Settings) -> str:
    """The libpq URL psycopg wants, from whatever DATABASE_URL spelling was given."""
    assert settings.database_url is not None
    url = make_url(settings.database_url.get_secret_value()).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class QueuePool:
    """One per app, opened at first use and closed by the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.pool = AsyncConnectionPool(
            conninfo(settings),
            min_size=1,
            max_size=settings.db_pool_size,
            kwargs={
                "autocommit": True,
                "connect_timeout": max(2, math.ceil(settings.db_connect_timeout_s)),
                "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
                "application_name": settings.service_name,
            },
            timeout=settings.db_pool_timeout_s,
            open=False,
            name="queue",
        )
        self.latency = DB_STATEMENT_LATENCY.labels(settings.service_name)
        self._checking: asyncio.Task[None] | None = None
        self._opened = False
        self._failing = False
        self._connect_timeout_s = settings.db_connect_timeout_s

    @classmethod
    def of(cls, app: FastAPI) -> QueuePool:
        """The app's pool, made at its first use (in the app's event loop)."""
        pool: QueuePool | None = getattr(app.state, "queue_pool", None)
        if pool is None:
            pool = app.state.queue_pool = cls(app.state.settings)
        return pool

    async def close(self) -> None:
        if self._opened:
            await self.pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled autocommit connection; its use is timed as one statement (each hot
        route runs one per connection checkout)."""
        if not self._opened:
            # Connect in the background: a database that is down at start makes requests
            # 503, it does not fail the process.
            self._opened = True
            await self.pool.open(wait=False)
        # While the database is failing, a request waits one connect timeout for a
        # connection, not the whole pool timeout.
        timeout = self._connect_timeout_s if self._failing else None
        try:
            async with self.pool.connection(timeout) as connection:
                self._failing = False
                started = time.perf_counter()
                try:
                    yield connection
                finally:
                    self.latency.observe(time.perf_counter() - started)
        except PoolTimeout as exc:
            stats = self.pool.get_stats()
            if stats.get("pool_size", 0) >= self.pool.max_size and not stats.get("pool_available"):
                raise PoolBusyError(str(exc)) from exc  # every connection is in use
            self._failing = True  # connections are missing: the database is not answering
            raise
        except psycopg.OperationalError:
            self._failing = True
            self._check_idle()
            raise

    def _check_idle(self) -> None:
        """Drop the idle connections that died with this one (a database restart)."""
        if self._checking is None or self._checking.done():
            self._checking = asyncio.create_task(self.pool.check())


async def queue_connection(request: Request) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """FastAPI dependency: a pooled autocommit connection for one hot-route request."""
    async with QueuePool.of(request.app).connection() as connection:
        yield connection


#: A route's pooled autocommit connection.
QueueConnectionDep = Annotated[psycopg.AsyncConnection[Any], Depends(queue_connection)]
