"""Fixtures for the task-service tests: a migrated database on the session's real
PostgreSQL server, the app, and an HTTP client; tables are emptied after each test."""

from __future__ import annotations

import re
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from task_service.config import Settings
from task_service.main import build_app
from taskplane_common.migrations import upgrade
from taskplane_testing.http import asgi_client
from taskplane_testing.postgres import PostgresServer, empty_schema


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"DATABASE_URL": database_url, "auth_disabled": True}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def task_db_url(postgres_server: PostgresServer) -> str:
    url = postgres_server.create_database("task_service_tests")
    upgrade("task_service", url)
    return url


@pytest.fixture(scope="session")
async def app(task_db_url: str) -> AsyncIterator[FastAPI]:
    application = build_app(make_settings(task_db_url))
    yield application
    await application.state.database.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, "http://task-service") as c:
        yield c


@pytest.fixture
def db(task_db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A direct connection for assertions on what was (not) written."""
    with psycopg.connect(task_db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "task_db_url" in request.fixturenames:
        empty_schema(request.getfixturevalue("task_db_url"), "tasks")


RowCount = Callable[..., int]


@pytest.fixture
def row_count(db: psycopg.Connection[Any]) -> RowCount:
    """``row_count()`` tasks, or ``row_count("tasks.events")``."""

    def _count(table: str = "tasks.tasks") -> int:
        row = db.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - test constant
        assert row is not None
        return int(row[0])

    return _count


Json = dict[str, Any]
Q = "jobs"


async def configure(client: httpx.AsyncClient, queue: str = Q, **config: Any) -> Json:
    response = await client.put(f"/api/v1/queues/{queue}", json=config)
    assert response.status_code in (200, 201), response.text
    body: Json = response.json()
    return body


async def enqueue(client: httpx.AsyncClient, queue: str = Q, **fields: Any) -> Json:
    fields.setdefault("payload", {})
    response = await client.post(f"/api/v1/queues/{queue}/tasks", json=fields)
    assert response.status_code in (200, 201), response.text
    body: Json = response.json()
    return body


async def enqueue_many(client: httpx.AsyncClient, count: int, queue: str = Q) -> list[Json]:
    tasks = [{"payload": {"n": n}} for n in range(count)]
    response = await client.post(f"/api/v1/queues/{queue}/tasks", json={"tasks": tasks})
    assert response.status_code == 201, response.text
    created: list[Json] = response.json()["tasks"]
    return created


async def lease(
    client: httpx.AsyncClient,
    queue: str = Q,
    max_tasks: int = 1,
    wait_s: float = 0,
    worker: str = "w1",
) -> list[Json]:
    response = await client.post(
        f"/api/v1/queues/{queue}/leases",
        json={"worker_id": worker, "max_tasks": max_tasks, "wait_s": wait_s},
    )
    assert response.status_code == 200, response.text
    tasks: list[Json] = response.json()["tasks"]
    return tasks


async def stats(client: httpx.AsyncClient, queue: str = Q) -> Json:
    response = await client.get(f"/api/v1/queues/{queue}")
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


def task_row(db: psycopg.Connection[Any], task_id: str) -> Json:
    cursor = db.execute(
        "SELECT status, attempts, lease_id, run_at, result, last_error, lease_expires_at, "
        "leased_at, now() AS now FROM tasks.queue_tasks WHERE id = %s",
        (task_id,),
    )
    row = cursor.fetchone()
    assert row is not None
    names = [column.name for column in cursor.description or ()]
    return dict(zip(names, row, strict=True))


def event_types(db: psycopg.Connection[Any], task_id: str) -> list[str]:
    rows = db.execute(
        "SELECT type FROM tasks.events WHERE task_id = %s ORDER BY id", (task_id,)
    ).fetchall()
    return [row[0] for row in rows]


#: pg_dump's per-run random ``\restrict`` key lines (PostgreSQL 15.14 and later).
_RESTRICT_KEY = re.compile(r"^\\(un)?restrict .*$", re.MULTILINE)


def schema_dump(server: PostgresServer, url: str) -> str:
    """``pg_dump --schema-only`` of the schema ``tasks``: tables with their columns in
    order, constraints, indexes, views, functions (their source as written), triggers,
    sequences."""
    dump = subprocess.run(
        [str(server.bin / "pg_dump"), "--schema-only", "--schema", "tasks", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return _RESTRICT_KEY.sub("", dump)
