"""The two shapes every periodic database job runs on: a pass at start and on every tick,
whose failures are logged as what they are and retried; and a pass made of short
batches, each committed on its own."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from taskplane_common.background import Periodic, drain
from taskplane_common.db import Database
from taskplane_common.settings import ServiceSettings
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import nowhere_url

#: A bound on every wait below: generous, a busy machine may be slow to schedule a pass.
PATIENCE_S = 30.0


def _database(url: str) -> Database:
    return Database(ServiceSettings(database_url=url, service_name="background-test"))


class Probe(Periodic):
    """Runs ``statement`` (or raises ``bug``) and counts its passes, failed or not."""

    name = "probe"

    def __init__(self, database: Database, statement: str, bug: Exception | None = None) -> None:
        super().__init__(database, interval_s=0.05)
        self.statement = statement
        self.bug = bug
        self.passes = 0
        self.third = asyncio.Event()

    async def run_once(self) -> None:
        self.passes += 1
        if self.passes == 3:
            self.third.set()
        if self.bug is not None:
            raise self.bug
        async with self.database.session() as session:
            await session.execute(text(self.statement))


def _own(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records of the periodic loop (a pass stopped mid-query adds psycopg's own)."""
    return [r for r in caplog.records if r.name == "taskplane_common.background"]


async def _three_passes(probe: Probe) -> None:
    probe.start()
    try:
        await asyncio.wait_for(probe.third.wait(), PATIENCE_S)
    finally:
        await probe.stop()


async def test_an_unreachable_database_is_one_line_a_pass_and_the_passes_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nowhere = urlsplit(nowhere_url()).netloc
    database = _database(f"postgresql+psycopg://u:secret-pw@{nowhere}/x")
    caplog.set_level(logging.WARNING, logger="taskplane_common.background")
    try:
        await _three_passes(Probe(database, "SELECT 1"))
    finally:
        await database.dispose()
    failures = _own(caplog)
    assert len(failures) >= 2
    for record in failures:
        assert record.levelno == logging.WARNING
        assert record.exc_info is None, "an outage is not a bug: no traceback"
        line = record.getMessage()
        assert line.startswith("probe pass failed, next in 0.05s: cannot use the database: ")
        assert "\n" not in line
        assert "secret-pw" not in line


async def test_a_pass_cancelled_while_it_connects_is_cancelled() -> None:
    """Shutdown during an outage: a cancellation that lands while a connection attempt
    fails must end the pass. (Python 3.11's ``asyncio.wait_for`` around the connect let
    the failure win, the loop went on, and ``stop`` waited for ever.)"""
    nowhere = urlsplit(nowhere_url()).netloc
    database = _database(f"postgresql+psycopg://u:pw@{nowhere}/x")

    async def one_statement() -> None:
        async with database.session() as session:
            await session.execute(text("SELECT 1"))

    try:
        for steps in range(12):  # every point of the attempt, one loop step apart
            attempt = asyncio.create_task(one_statement())
            for _ in range(steps):
                await asyncio.sleep(0)
            if attempt.done():
                break
            attempt.cancel()
            with pytest.raises(asyncio.CancelledError):
                await attempt
        assert steps > 1, "the attempt was cancelled at more than its first step"
    finally:
        await database.dispose()


async def test_a_missing_schema_says_to_migrate_and_a_bug_keeps_its_traceback(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    database = _database(postgres_server.create_database("background_schema"))
    caplog.set_level(logging.WARNING, logger="taskplane_common.background")
    try:
        await _three_passes(Probe(database, "SELECT 1 FROM nowhere.audit_log"))
        unmigrated = [r.getMessage() for r in _own(caplog)]
        caplog.clear()
        await _three_passes(Probe(database, "SELECT 1", bug=KeyError("lost")))
        bugs = _own(caplog)
    finally:
        await database.dispose()
    assert unmigrated
    assert all(
        line.startswith("probe pass failed, next in 0.05s: the schema is missing: ")
        and line.endswith("(has the service's `migrate` run?)")
        for line in unmigrated
    )
    assert bugs
    assert all(r.levelno == logging.ERROR and r.exc_info for r in bugs)
    assert bugs[0].getMessage() == "probe pass failed; next in 0.05s"


async def test_drain_commits_each_batch_until_one_comes_back_short(
    postgres_server: PostgresServer,
) -> None:
    database = _database(postgres_server.create_database("background_drain"))
    calls = 0

    async def batch(session: AsyncSession) -> dict[str, int]:
        """Delete three rows; the third call fails after its delete, before its commit."""
        nonlocal calls
        calls += 1
        deleted = await session.execute(
            text("DELETE FROM t WHERE k IN (SELECT k FROM t ORDER BY k LIMIT 3) RETURNING k")
        )
        count = len(deleted.all())
        if calls == 3:
            await session.execute(text("SELECT 1 FROM no_such_table"))
        return {"t": count, "other": 1}

    try:
        async with database.session() as session:
            await session.execute(text("CREATE TABLE t (k int PRIMARY KEY)"))
            await session.execute(text("INSERT INTO t SELECT generate_series(1, 10)"))
        with pytest.raises(ProgrammingError):
            await drain(database, 3, batch)
        async with database.session() as session:
            left = (await session.execute(text("SELECT count(*) FROM t"))).scalar_one()
        assert left == 4, "the two batches before the failing one stay committed"
        # Again, without the failure: a full batch, then a short one ends the pass.
        assert await drain(database, 3, batch) == {"t": 4, "other": 2}
        assert calls == 5
    finally:
        await database.dispose()
