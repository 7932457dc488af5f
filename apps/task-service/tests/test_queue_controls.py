"""Queue controls through the HTTP API on a real PostgreSQL: pause, cancel, rate and in-flight
limits, long polls, the rescuer, metrics, deletion and scopes (bounded waits only)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from task_service.config import Settings
from task_service.main import build_app
from task_service.queue.maintenance.rescuer import Rescuer
from task_service.queue.maintenance.stats import StatsRefresher
from taskplane_common.principals import Principal
from taskplane_testing.http import asgi_client, assert_problem

from .conftest import Json, Q, configure, enqueue, enqueue_many, event_types, lease, stats, task_row


async def test_pause_stops_leasing(client: httpx.AsyncClient) -> None:
    await configure(client, paused=True)
    await enqueue(client)
    assert await lease(client, max_tasks=5, wait_s=0.3) == []
    assert (await stats(client))["available"] == 1
    await configure(client, paused=False)
    assert len(await lease(client, max_tasks=5)) == 1


async def test_cancel(client: httpx.AsyncClient, db: psycopg.Connection[Any]) -> None:
    waiting = await enqueue(client)
    cancelled = await client.post(f"/api/v1/tasks/{waiting['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert await lease(client) == []
    assert_problem(await client.post(f"/api/v1/tasks/{waiting['id']}/cancel"), 409)
    assert_problem(await client.post(f"/api/v1/tasks/{uuid.uuid4()}/cancel"), 404)
    assert event_types(db, waiting["id"]) == ["task.created", "task.cancelled"]

    running = await enqueue(client)
    (held,) = await lease(client)
    await client.post(f"/api/v1/tasks/{running['id']}/cancel")
    assert_problem(await client.post(f"/api/v1/leases/{held['lease_id']}/complete", json={}), 409)
    assert task_row(db, running["id"])["status"] == "cancelled"


async def test_rate_limit(client: httpx.AsyncClient) -> None:
    rate = 4.0
    await configure(client, rate_limit_per_s=rate)
    await enqueue_many(client, 40)
    started = time.monotonic()
    first = await lease(client, max_tasks=40)
    assert 0 < len(first) <= rate  # the burst is one second's worth
    total = len(first)
    while time.monotonic() - started < 1.5:
        total += len(await lease(client, max_tasks=40, wait_s=0.2))
    elapsed = time.monotonic() - started
    assert total <= rate + rate * elapsed + 1, (total, elapsed)
    assert total > len(first), "tokens never refilled"


async def test_max_in_flight(client: httpx.AsyncClient) -> None:
    await configure(client, max_in_flight=3)
    await enqueue_many(client, 10)
    held = await lease(client, max_tasks=10)
    assert len(held) == 3
    assert await lease(client, max_tasks=10, worker="w2") == []
    await client.post(f"/api/v1/leases/{held[0]['lease_id']}/complete", json={})
    assert len(await lease(client, max_tasks=10, worker="w2")) == 1
    await client.post(f"/api/v1/leases/{held[1]['lease_id']}/release", json={})
    assert len(await lease(client, max_tasks=10, worker="w2")) == 1


async def test_concurrent_leasers_never_share_a_task(client: httpx.AsyncClient) -> None:
    await enqueue_many(client, 60)
    batches = await asyncio.gather(*(lease(client, max_tasks=7, worker=f"w{i}") for i in range(12)))
    ids = [task["id"] for batch in batches for task in batch]
    assert len(ids) == len(set(ids)) == 60


async def test_long_poll_returns_when_a_task_arrives(client: httpx.AsyncClient) -> None:
    await configure(client)
    waiting = asyncio.create_task(lease(client, wait_s=10))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    task = await enqueue(client)
    got = await asyncio.wait_for(waiting, timeout=10)
    assert [t["id"] for t in got] == [task["id"]]


async def test_rescuer_reclaims_expired_leases(
    app: FastAPI, client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    await configure(client, max_attempts=2)
    retried, doomed = await enqueue(client), await enqueue(client)
    await lease(client, max_tasks=2)
    db.execute("UPDATE tasks.queue_jobs SET attempts = 2 WHERE id = %s", (doomed["id"],))
    db.execute("UPDATE tasks.queue_jobs SET lease_expires_at = now() - interval '1 second'")
    assert await Rescuer(app.state.database, interval_s=1, batch=1).rescue_all() == 2
    assert task_row(db, retried["id"])["status"] == "pending"
    assert task_row(db, doomed["id"])["status"] == "dead"
    assert task_row(db, doomed["id"])["last_error"].startswith("lease expired")
    assert (await stats(client))["failed_total"] == 2


async def test_queue_metrics(app: FastAPI, client: httpx.AsyncClient) -> None:
    await enqueue_many(client, 3, queue="metered")
    (held,) = await lease(client, queue="metered")
    await client.post(f"/api/v1/leases/{held['lease_id']}/complete", json={})
    await StatsRefresher(app.state.database, interval_s=1).run_once()
    text = (await client.get("/metrics")).text
    assert 'taskplane_queue_available{queue="metered"} 2.0' in text
    assert 'taskplane_queue_in_flight{queue="metered"} 0.0' in text
    assert 'taskplane_queue_completed_total{queue="metered"} 1.0' in text
    assert 'taskplane_queue_dead{queue="metered"} 0.0' in text
    assert "taskplane_queue_oldest_available_age_seconds" in text
    assert 'taskplane_queue_lease_latency_seconds_count{queue="metered"}' in text
    assert 'taskplane_queue_ack_latency_seconds_count{outcome="completed",queue="metered"}' in text


async def test_delete_queue(client: httpx.AsyncClient, db: psycopg.Connection[Any]) -> None:
    waiting = await enqueue(client)
    await enqueue(client)
    await lease(client)
    assert_problem(await client.delete(f"/api/v1/queues/{Q}"), 409)
    assert (await client.delete(f"/api/v1/queues/{Q}?force=true")).status_code == 204
    assert_problem(await client.get(f"/api/v1/queues/{Q}"), 404)
    assert_problem(await client.get(f"/api/v1/tasks/{waiting['id']}"), 404)
    assert_problem(await client.delete(f"/api/v1/queues/{Q}"), 404)


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("post", f"/api/v1/queues/{Q}/leases", "queues:work"),
        ("post", "/api/v1/leases/complete", "queues:work"),
        ("put", f"/api/v1/queues/{Q}", "queues:admin"),
        ("get", "/api/v1/events", "events:read"),
    ],
)
async def test_scopes_are_required(task_db_url: str, method: str, path: str, scope: str) -> None:
    class Verifier:
        async def verify(self, token: str) -> Principal:
            return Principal(subject="svc", scopes=frozenset({"other"}))

    settings = Settings(
        DATABASE_URL=task_db_url, auth_disabled=False, jwks_url="http://auth.invalid/jwks.json"
    )
    application = build_app(settings)
    application.state.token_verifier = Verifier()
    async with asgi_client(application, "http://t") as anonymous:
        body: Json = {"worker_id": "w", "max_tasks": 1} if method == "post" else {}
        if path.endswith("/complete"):
            body = {"items": [{"lease_id": str(uuid.uuid4())}]}
        kwargs: Json = {"json": body} if method != "get" else {}
        response = await anonymous.request(
            method, path, headers={"Authorization": "Bearer x"}, **kwargs
        )
        problem = assert_problem(response, 403)
        assert scope in problem["detail"]
    await application.state.database.dispose()
