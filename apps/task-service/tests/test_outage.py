"""A real PostgreSQL stop and restart: readiness and API calls degrade to 503 and recover."""

from __future__ import annotations

import asyncio
import socket

import httpx
from sqlalchemy import text

from task_service.config import Settings
from task_service.main import build_app
from taskplane_common.metrics import DB_POOL_EXHAUSTED
from taskplane_common.migrations import upgrade
from taskplane_testing.http import asgi_client, assert_problem
from taskplane_testing.postgres import PostgresServer


async def wait_for_status(client: httpx.AsyncClient, url: str, status: int) -> httpx.Response:
    """Poll until ``url`` answers ``status`` (the pool may need a moment to reconnect)."""
    response = await client.get(url)
    for _ in range(50):
        if response.status_code == status:
            return response
        await asyncio.sleep(0.2)
        response = await client.get(url)
    return response


async def test_readyz_and_api_follow_the_database(private_postgres_server: PostgresServer) -> None:
    url = private_postgres_server.create_database("outage")
    upgrade("task_service", url)
    app = build_app(Settings(DATABASE_URL=url, auth_disabled=True))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    # The timeout bounds every call: a hung connection attempt would fail the test.
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=5) as client:
        assert (await client.get("/readyz")).status_code == 200
        created = await client.post("/api/v1/tasks", json={"title": "before the outage"})
        assert created.status_code == 201

        private_postgres_server.stop()
        ready = await asyncio.wait_for(client.get("/readyz"), timeout=5)
        problem = assert_problem(ready, 503)
        assert problem["checks"] == {"database": False}
        assert (await client.get("/healthz")).status_code == 200
        listing = await asyncio.wait_for(client.get("/api/v1/tasks"), timeout=5)
        assert_problem(listing, 503)
        assert listing.headers["retry-after"]
        write = await asyncio.wait_for(
            client.post("/api/v1/tasks", json={"title": "during the outage"}), timeout=5
        )
        assert_problem(write, 503)

        private_postgres_server.start()
        assert (await wait_for_status(client, "/readyz", 200)).status_code == 200
        recovered = await wait_for_status(client, "/api/v1/tasks", 200)
        assert [t["title"] for t in recovered.json()["items"]] == ["before the outage"]
    await app.state.database.dispose()


async def test_a_database_that_accepts_but_never_answers_is_a_503() -> None:
    """A black-holed database (a port that accepts and stays silent) must not hang
    requests: the connect timeout turns it into 503 problem+json (bounded by the client's
    own 5 s timeout here; `TASKPLANE_DB_CONNECT_TIMEOUT_S` is 1.5 s by default)."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    app = build_app(
        Settings(DATABASE_URL=f"postgresql://u@127.0.0.1:{port}/db", auth_disabled=True)
    )
    try:
        async with asgi_client(app, "http://t", timeout=5) as client:
            assert_problem(await client.get("/readyz"), 503)
            problem = assert_problem(await client.get("/api/v1/tasks"), 503)
            assert problem["type"].endswith("/database-unavailable")
    finally:
        await app.state.database.dispose()
        silent.close()


async def test_a_saturated_pool_is_a_busy_503_not_an_outage(task_db_url: str) -> None:
    """Every pooled connection busy past the pool timeout: 503 ``database-busy`` with
    ``Retry-After``, counted per service, and the next request once one frees is a 200."""
    app = build_app(
        Settings(
            DATABASE_URL=task_db_url,
            auth_disabled=True,
            db_pool_size=1,
            db_max_overflow=0,
            db_pool_timeout_s=0.2,
        )
    )
    busy = DB_POOL_EXHAUSTED.labels("task-service")
    before = busy._value.get()
    try:
        async with asgi_client(app, "http://t", timeout=10) as client:
            async with app.state.database.engine.connect() as held:
                await held.execute(text("SELECT 1"))
                problem = assert_problem(await client.get("/api/v1/tasks"), 503)
                assert problem["type"].endswith("/database-busy")
                assert problem["title"] == "Service busy"
            assert busy._value.get() == before + 1
            assert (await client.get("/api/v1/tasks")).status_code == 200
    finally:
        await app.state.database.dispose()


async def test_an_idle_connection_is_pinged_so_a_restart_costs_no_request(
    private_postgres_server: PostgresServer,
) -> None:
    """Pooled connections that sat idle are pinged before use: after a database restart
    the first request reconnects instead of failing on a dead connection."""
    url = private_postgres_server.create_database("idle_ping")
    upgrade("task_service", url)
    app = build_app(Settings(DATABASE_URL=url, auth_disabled=True, db_ping_idle_after_s=0))
    try:
        async with asgi_client(app, "http://t", timeout=10) as client:
            assert (await client.get("/api/v1/tasks")).status_code == 200
            assert (await client.post("/api/v1/tasks", json={"title": "kept"})).status_code == 201
            private_postgres_server.stop()
            private_postgres_server.start()
            listing = await client.get("/api/v1/tasks")
            assert listing.status_code == 200, listing.text
            assert [task["title"] for task in listing.json()["items"]] == ["kept"]
            created = await client.post("/api/v1/tasks", json={"title": "after the restart"})
            assert created.status_code == 201, created.text
    finally:
        await app.state.database.dispose()
