"""SQL spans come from the psycopg driver: a statement through the SQLAlchemy engine
(ORM or Core) and one through a plain psycopg pool each get exactly one client span, a
child of the span current when it ran (the request's, in a service)."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import text

from taskplane_common.db import Database
from taskplane_common.settings import ServiceSettings
from taskplane_common.tracing import configure_tracer_provider, trace_sql
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.spans import captured_spans


async def test_engine_and_plain_pool_statements_are_one_span_each(
    postgres_server: PostgresServer,
) -> None:
    configure_tracer_provider("sql-spans-test", None)
    trace_sql()
    trace_sql()  # once per process: a second call changes nothing
    url = postgres_server.create_database("common_sql_spans")
    database = Database(ServiceSettings(database_url=url, service_name="sql-spans-test"))
    pool = AsyncConnectionPool(postgres_server.url("common_sql_spans"), min_size=1, open=False)
    await pool.open()
    try:
        tracer = trace.get_tracer(__name__)
        with captured_spans() as spans, tracer.start_as_current_span("request") as parent:
            async with database.session() as session:
                await session.execute(text("SELECT 'engine path'"))
            async with pool.connection() as connection:
                await connection.execute("SELECT 'pool path'")
    finally:
        await pool.close()
        await database.dispose()
    sql = [s for s in spans if s.attributes and "db.statement" in s.attributes]
    statements = [str(s.attributes["db.statement"]) for s in sql if s.attributes]
    assert statements.count("SELECT 'engine path'") == 1, statements
    assert statements.count("SELECT 'pool path'") == 1, statements
    trace_id = parent.get_span_context().trace_id
    for span in sql:
        assert span.kind == SpanKind.CLIENT
        assert span.context is not None
        assert span.context.trace_id == trace_id
        assert span.attributes is not None
        assert span.attributes["db.system"] == "postgresql"
