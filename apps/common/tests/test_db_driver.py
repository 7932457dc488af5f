"""The Driver path (a pooled psycopg connection used directly): errors read as the
engine's, a broken connection leaves the pool, its SQL span and statement metric, and
prepared statements that a proxy deployment can switch off."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy.exc import IntegrityError, OperationalError

from taskplane_common.db import Database
from taskplane_common.settings import ServiceSettings
from taskplane_common.tracing import configure_tracer_provider
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.spans import captured_spans

PREPARED = "SELECT count(*) AS n FROM pg_prepared_statements"


def _database(url: str, **settings: object) -> Database:
    return Database(ServiceSettings(database_url=url, service_name="driver-test", **settings))


async def test_errors_read_as_the_engines_and_a_broken_connection_is_replaced(
    postgres_server: PostgresServer,
) -> None:
    configure_tracer_provider("driver-test", None)
    database = _database(postgres_server.create_database("driver_errors"))
    latency = database.latency
    observed = latency._sum.get()
    try:
        async with database.driver() as db:
            await db.fetch("CREATE TABLE t (k int PRIMARY KEY)", {})
            tracer = trace.get_tracer(__name__)
            with captured_spans() as spans, tracer.start_as_current_span("request") as parent:
                assert await db.fetch("INSERT INTO t VALUES (%(k)s) RETURNING k", {"k": 1}) == [
                    {"k": 1}
                ]
            with pytest.raises(IntegrityError):
                await db.fetch("INSERT INTO t VALUES (%(k)s)", {"k": 1})
        (sql,) = [s for s in spans if s.kind == SpanKind.CLIENT]
        assert sql.name == "INSERT"
        assert sql.attributes is not None
        assert sql.attributes["db.statement"].startswith("INSERT INTO t")
        assert sql.attributes["db.system"] == "postgresql"
        assert sql.context is not None
        assert sql.context.trace_id == parent.get_span_context().trace_id
        assert latency._sum.get() > observed
        with pytest.raises(OperationalError):
            async with database.driver() as db:
                await db.fetch("SELECT pg_terminate_backend(pg_backend_pid())", {})
        async with database.driver() as db:
            assert await db.fetch("SELECT k FROM t", {}) == [{"k": 1}]
    finally:
        await database.dispose()


async def test_rows_are_keyed_by_the_results_columns_when_a_text_changes_shape(
    postgres_server: PostgresServer,
) -> None:
    """Column names are kept per statement text: a ``SELECT *`` whose table gained a
    column (a migration while the service runs) is keyed by the new columns."""
    database = _database(postgres_server.create_database("driver_columns"))
    try:
        async with database.driver() as db:
            await db.fetch("CREATE TABLE t (a int)", {})
            await db.fetch("INSERT INTO t VALUES (1)", {})
            assert await db.fetch("SELECT * FROM t", {}) == [{"a": 1}]
            assert await db.fetch("SELECT * FROM t", {}) == [{"a": 1}]
            await db.fetch("ALTER TABLE t ADD COLUMN b text DEFAULT 'x'", {})
            assert await db.fetch("SELECT * FROM t", {}) == [{"a": 1, "b": "x"}]
            assert await db.fetch("SELECT a AS c FROM t WHERE false", {}) == []
            assert await db.fetch("UPDATE t SET a = 2", {}) == []
    finally:
        await database.dispose()


@pytest.mark.parametrize(("prepared", "expected"), [(True, 1), (False, 0)])
async def test_prepared_statements_can_be_switched_off(
    postgres_server: PostgresServer, prepared: bool, expected: int
) -> None:
    url = postgres_server.create_database(f"driver_prepared_{str(prepared).lower()}")
    database = _database(url, db_prepared_statements=prepared)
    try:
        async with database.driver() as db:
            for _ in range(6):
                await db.fetch("SELECT %(x)s::int AS x", {"x": 1})
            (row,) = await db.fetch(PREPARED, {})
            assert min(row["n"], 1) == expected
    finally:
        await database.dispose()


def test_a_components_own_database_url_overrides_the_shared_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Behind RDS Proxy some services connect to the proxy, the task-service directly:
    ``TASKPLANE_DATABASE_URL`` (one component's) wins over ``DATABASE_URL`` (everyone's)."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@instance/db")
    assert _url() == "postgresql://u@instance/db"
    monkeypatch.setenv("TASKPLANE_DATABASE_URL", "postgresql://u@proxy/db")
    assert _url() == "postgresql://u@proxy/db"


def _url() -> str:
    url = ServiceSettings().database_url
    assert url is not None
    return url.get_secret_value()
