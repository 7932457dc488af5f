"""Async SQLAlchemy engine and session handling shared by every service.

Hot paths that run one fixed statement per request skip SQLAlchemy's execution layer:
:meth:`Database.driver` (routes get the database from :func:`request_database`) checks
a connection out of the engine's pool (so the pool's timeout, idle pings and metrics
stay the same) and runs the statements on the psycopg connection under it, in
autocommit.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, cast

import psycopg
from fastapi import Depends, Request
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Histogram
from psycopg import pq
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import QueuePool
from sqlalchemy.util import greenlet_spawn

from taskplane_common.commandline import NO_DATABASE_URL, ConfigurationError
from taskplane_common.metrics import (
    DB_POOL_EXHAUSTED,
    DB_POOL_IN_USE,
    DB_POOL_MAX,
    DB_STATEMENT_LATENCY,
)
from taskplane_common.openapi import raises
from taskplane_common.settings import ServiceSettings


def async_database_url(url: str) -> str:
    """Normalise ``postgresql://`` (what users and RDS secrets carry) to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername != "postgresql+psycopg":
        raise ConfigurationError(
            f"DATABASE_URL: unsupported database driver {parsed.drivername!r}: use postgresql://"
        )
    return parsed.render_as_string(hide_password=False)


class Database:
    """One engine and session factory per process; created by the app factory."""

    def __init__(self, settings: ServiceSettings) -> None:
        if settings.database_url is None:
            raise ConfigurationError(NO_DATABASE_URL)
        try:
            url = make_url(async_database_url(settings.database_url.get_secret_value()))
        except ArgumentError as exc:  # not a URL at all
            raise ConfigurationError(f"DATABASE_URL: {exc}") from exc
        _, params = url.get_dialect(_is_async=True)().create_connect_args(url)
        params.update(
            # libpq's own timeout counts whole seconds (at least 2); the wait_for below
            # enforces the real, finer limit.
            connect_timeout=max(2, math.ceil(settings.db_connect_timeout_s)),
            options=f"-c statement_timeout={settings.db_statement_timeout_ms}",
            application_name=settings.service_name,
        )
        if not settings.db_prepared_statements:
            params["prepare_threshold"] = None
        self.ping_timeout_s = settings.db_connect_timeout_s
        server = {
            "db.system": "postgresql",
            "db.name": url.database,
            "db.user": url.username,
            "net.peer.name": url.host,
            "net.peer.port": url.port,
        }
        self.statements = Statements(
            {key: value for key, value in server.items() if value is not None}
        )

        async def connect() -> psycopg.AsyncConnection[Any]:
            """A new connection within the connect timeout: a server that accepts and
            never answers must not hold a request longer than that."""
            try:
                async with asyncio.timeout(settings.db_connect_timeout_s):
                    return await psycopg.AsyncConnection.connect(**params)
            except TimeoutError as exc:
                raise psycopg.OperationalError(
                    f"no answer from the database within {settings.db_connect_timeout_s}s"
                ) from exc

        # Every connection the settings allow stays pooled once opened: with overflow
        # connections, SQLAlchemy closes one whenever it comes back to a pool already
        # holding ``db_pool_size`` idle ones, which a load just above the pool size does
        # many times a second (a new PostgreSQL backend, and its start-up, per request).
        # The most connections a process opens is the same.
        self.engine: AsyncEngine = create_async_engine(
            url,
            async_creator=connect,
            pool_size=settings.db_pool_size + settings.db_max_overflow,
            max_overflow=0,
            pool_timeout=settings.db_pool_timeout_s,
            pool_recycle=1800,
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        #: Sessions for routes that only read: autocommit, so a request is its statements
        #: and no BEGIN/ROLLBACK round trips (under READ COMMITTED every statement sees
        #: its own snapshot anyway, so a read transaction buys no consistency).
        self.autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.read_sessionmaker = async_sessionmaker(self.autocommit_engine, expire_on_commit=False)
        self._ping_idle_connections(settings.db_ping_idle_after_s)
        self._instrument(settings)

    def _ping_idle_connections(self, idle_after_s: float) -> None:
        """SQLAlchemy's pessimistic disconnect handling, for idle connections only.

        ``pool_pre_ping`` would add a round trip to every request; a connection that was
        in use moments ago is alive or fails its statement, which invalidates the pool
        (that request is a 503, the next ones reconnect).
        """
        pool = self.engine.sync_engine.pool
        dialect = self.engine.sync_engine.dialect

        def checked_in(_dbapi_connection: Any, record: Any) -> None:
            record.info["idle_since"] = time.monotonic()

        def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            idle_since = record.info.pop("idle_since", None)
            if idle_since is None or time.monotonic() - idle_since < idle_after_s:
                return
            try:
                dialect.do_ping(dbapi_connection)
            except Exception as exc:
                # The pool discards this connection and checks out a fresh one.
                raise DisconnectionError("an idle pooled connection is gone") from exc

        event.listen(pool, "checkin", checked_in)
        event.listen(pool, "checkout", checked_out)

    def _instrument(self, settings: ServiceSettings) -> None:
        """Pool use and statement latency per service, for the database dashboard."""
        service = settings.service_name
        DB_POOL_EXHAUSTED.labels(service)  # exposed as 0 from the start, for rate()
        pool = self.engine.pool
        if isinstance(pool, QueuePool):
            DB_POOL_IN_USE.labels(service).set_function(pool.checkedout)
            DB_POOL_MAX.labels(service).set(settings.db_pool_size + settings.db_max_overflow)
        latency = self.latency = DB_STATEMENT_LATENCY.labels(service)

        def started(*args: Any) -> None:
            context = args[4]
            context.taskplane_started = time.perf_counter()

        def finished(context: Any) -> None:
            began = getattr(context, "taskplane_started", None)
            if began is not None:
                latency.observe(time.perf_counter() - began)

        event.listen(self.engine.sync_engine, "before_cursor_execute", started)
        event.listen(
            self.engine.sync_engine, "after_cursor_execute", lambda *args: finished(args[4])
        )
        event.listen(
            self.engine.sync_engine,
            "handle_error",
            lambda exception_context: finished(exception_context.execution_context),
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    def driver(self) -> DriverCheckout:
        """``async with database.driver() as db``: a connection of the engine's pool in
        autocommit, used through psycopg directly (see the module's docstring and
        :class:`DriverCheckout`)."""
        return DriverCheckout(self)

    async def ping(self) -> bool:
        """True when the database answers a trivial query within the connect timeout."""
        try:
            async with asyncio.timeout(self.ping_timeout_s):
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


#: A row by column name (Core results, no ORM objects).
Row = Mapping[str, Any]


_TRACER = trace.get_tracer(__name__)


def _operation(sql: str) -> str:
    """A statement's span name: its first keyword after any ``--`` comment lines (the
    name the psycopg instrumentation gives the engine's statements)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    words = " ".join(lines).split()
    return words[0].upper() if words else "SQL"


class Statements:
    """What the Driver keeps per statement text, built on its first run: the SQL client
    span's name and attributes (the server's ``db.*`` attributes plus ``db.statement``)
    and the result's column names (psycopg's ``dict_row`` reads them off every result
    again). Texts are fixed or one per request shape; past ``MAX_TEXTS`` the cache
    starts over."""

    MAX_TEXTS = 1024

    def __init__(self, server: Mapping[str, Any]) -> None:
        self.server = dict(server)
        self._spans: dict[str, tuple[str, dict[str, Any]]] = {}
        self._columns: dict[str, tuple[str, ...]] = {}

    def span(self, sql: str) -> tuple[str, dict[str, Any]]:
        spec = self._spans.get(sql)
        if spec is None:
            if len(self._spans) >= self.MAX_TEXTS:
                self._spans.clear()
            spec = self._spans[sql] = (_operation(sql), {**self.server, "db.statement": sql})
        return spec

    def columns(self, sql: str, cursor: psycopg.AsyncCursor[Any], count: int) -> tuple[str, ...]:
        """The result's column names (``count`` of them: a text whose result changed
        shape, ``SELECT *`` after a migration, is read again)."""
        names = self._columns.get(sql)
        if names is None or len(names) != count:
            if len(self._columns) >= self.MAX_TEXTS:
                self._columns.clear()
            names = self._columns[sql] = tuple(column.name for column in cursor.description or ())
        return names


@dataclass(slots=True)
class Driver:
    """A pooled psycopg connection in autocommit (:meth:`Database.driver`): each
    statement is one round trip, its rows decoded once into dicts."""

    connection: psycopg.AsyncConnection[Any]
    latency: Histogram
    statements: Statements

    async def fetch(self, sql: str, params: Mapping[str, Any]) -> list[Row]:
        """Run a fixed SQL text (``%(name)s`` parameters; psycopg prepares a text after
        its fifth run on a connection). Errors come as SQLAlchemy's ``DBAPIError``
        family, so every service's error handlers read them as they read the engine's
        (409 unique violation, 422 unstorable value, 503 outage).

        The client span is made here, on a plain cursor: the psycopg instrumentation's
        traced cursor (which the engine's statements keep) costs several times more
        per statement for the same span."""
        started = time.perf_counter()
        name, attributes = self.statements.span(sql)
        span = _TRACER.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        try:
            # Rows as tuples (decoded in C), then one dict per row under the text's
            # cached column names.
            async with psycopg.AsyncCursor(self.connection) as cursor:
                await cursor.execute(sql, params)
                # The result's status, not ``description`` (which builds every column's
                # description on each call).
                result = cursor.pgresult
                if result is None or result.status != pq.ExecStatus.TUPLES_OK:
                    return []
                names = self.statements.columns(sql, cursor, result.nfields)
                return [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]
        except psycopg.Error as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise DBAPIError.instance(sql, params, exc, psycopg.Error) from exc
        finally:
            span.end()
            self.latency.observe(time.perf_counter() - started)


class DriverCheckout:
    """:meth:`Database.driver`'s context manager (a class, not a generator: it runs on
    every request). Checks a connection out of the engine's pool itself, without an
    engine ``Connection`` around it: the pool's timeout (503 database-busy), idle pings
    and metrics apply; the engine's connection, its events and its isolation-level
    switches (each a greenlet hop) do not. A connection-level failure does what the
    engine does on a disconnect: that connection is discarded and every connection
    opened before it is recycled at its next checkout (a database restart kills them
    all)."""

    __slots__ = ("database", "fairy")

    def __init__(self, database: Database) -> None:
        self.database = database
        self.fairy: Any = None

    async def __aenter__(self) -> Driver:
        database = self.database
        fairy = self.fairy = await greenlet_spawn(database.engine.sync_engine.pool.connect)
        connection = cast(psycopg.AsyncConnection[Any], fairy.driver_connection)
        try:
            await connection.set_autocommit(True)
        except BaseException as exc:
            await self._release(connection, exc)
            raise
        return Driver(connection, database.latency, database.statements)

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, _tb: Any) -> None:
        connection = cast(psycopg.AsyncConnection[Any], self.fairy.driver_connection)
        await self._release(connection, exc)

    async def _release(
        self, connection: psycopg.AsyncConnection[Any], exc: BaseException | None
    ) -> None:
        """Back to the pool out of autocommit, or discarded when the connection broke."""
        broken: BaseException | None = None
        if isinstance(exc, DBAPIError) and isinstance(exc.orig, psycopg.OperationalError):
            broken = exc
        if broken is None:
            try:
                await connection.set_autocommit(False)
            except psycopg.Error as error:
                broken = error
        pool = self.database.engine.sync_engine.pool
        if broken is None:
            await greenlet_spawn(self.fairy.close)
        else:
            await greenlet_spawn(pool._invalidate, self.fairy, broken)


async def fetch(
    db: AsyncConnection | AsyncSession, sql: str, params: Mapping[str, Any]
) -> list[Row]:
    """A fixed SQL text (psycopg's ``%(name)s`` parameters) through Core, on a connection
    or a session's connection and transaction: no compilation, spans and statement
    metrics from the engine's events; rows by column name."""
    connection = await db.connection() if isinstance(db, AsyncSession) else db
    result = await connection.exec_driver_sql(sql, dict(params))
    return list(cast(Iterable[Row], result.mappings())) if result.returns_rows else []


@raises(503)
async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: a session per request on the app's database.

    Routes commit explicitly; anything they leave uncommitted rolls back.
    """
    database: Database = request.app.state.database
    async with database.sessionmaker() as session:
        yield session


@raises(503)
async def request_database(request: Request) -> Database:
    """FastAPI dependency: the app's database, for routes that take a connection with
    ``async with database.driver()``. Not a dependency that yields the connection: FastAPI
    wraps each of those in a context manager and an anyio cancel scope per request, which
    cost more than the statement's own client CPU."""
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(request_database)]


@raises(503)
async def request_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency for routes that only read: an autocommit session (no
    transaction round trips); writing through it would commit statement by statement."""
    database: Database = request.app.state.database
    async with database.read_sessionmaker() as session:
        yield session
