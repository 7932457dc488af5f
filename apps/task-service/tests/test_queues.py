"""Queue engine through the HTTP API on a real PostgreSQL: each feature has a test that
fails without it (bounded waits only, no timing assertions)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import datetime
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
        "leased_at, now() AS now FROM tasks.tasks WHERE id = %s",
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


async def test_lease_order_complete_and_stats(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    low = await enqueue(client, priority="low", payload={"k": "low"})
    first_high = await enqueue(client, priority="high", payload={"k": "h1"})
    second_high = await enqueue(client, priority="high", payload={"k": "h2"})
    critical = await enqueue(client, priority="critical", payload={"k": "c"})
    assert low["status"] == "pending"
    assert (await stats(client))["available"] == 4

    leased = await lease(client, max_tasks=10)
    assert [t["id"] for t in leased] == [
        critical["id"],
        first_high["id"],
        second_high["id"],
        low["id"],
    ]
    assert all(t["attempt"] == 1 and t["lease_id"] for t in leased)
    current = await stats(client)
    assert (current["available"], current["in_flight"]) == (0, 4)

    done = await client.post(
        f"/api/v1/leases/{leased[0]['lease_id']}/complete", json={"result": {"ok": 1}}
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    row = task_row(db, critical["id"])
    assert (row["status"], row["result"], row["lease_id"]) == ("completed", {"ok": 1}, None)
    assert event_types(db, critical["id"]) == ["task.created", "task.updated", "task.completed"]
    final = await stats(client)
    assert (final["in_flight"], final["completed_total"], final["failed_total"]) == (3, 1, 0)
    # The task is visible through the tasks API too, with its queue status.
    assert (await client.get(f"/api/v1/tasks/{critical['id']}")).json()["status"] == "completed"


async def test_bad_input(client: httpx.AsyncClient, row_count: Callable[..., int]) -> None:
    assert_problem(await client.post(f"/api/v1/queues/{Q}/tasks", json={"payload": [1, 2]}), 422)
    assert_problem(await client.post(f"/api/v1/queues/{Q}/tasks", json={"payload": "x"}), 422)
    both = {"payload": {}, "delay_s": 1, "run_at": "2030-01-01T00:00:00Z"}
    assert_problem(await client.post(f"/api/v1/queues/{Q}/tasks", json=both), 422)
    huge = {"payload": {"blob": "x" * 300_000}}
    assert_problem(await client.post(f"/api/v1/queues/{Q}/tasks", json=huge), 413)
    assert_problem(await client.post("/api/v1/queues/bad name!/tasks", json={}), 422)
    # A batch is one transaction: one bad task and nothing is written.
    batch = {"tasks": [{"payload": {}}, {"payload": {"big": "y" * 300_000}}]}
    assert_problem(await client.post(f"/api/v1/queues/{Q}/tasks", json=batch), 413)
    assert row_count() == 0

    assert_problem(
        await client.post("/api/v1/queues/nope/leases", json={"worker_id": "w", "max_tasks": 1}),
        404,
    )
    await configure(client)
    for max_tasks in (0, -1, 1001):
        body = {"worker_id": "w", "max_tasks": max_tasks}
        assert_problem(await client.post(f"/api/v1/queues/{Q}/leases", json=body), 422)
    unknown = uuid.uuid4()
    for action in ("heartbeat", "complete", "release"):
        assert_problem(await client.post(f"/api/v1/leases/{unknown}/{action}", json={}), 409)
    assert_problem(await client.post(f"/api/v1/leases/{unknown}/fail", json={"error": "x"}), 409)
    assert_problem(await client.get("/api/v1/queues/nope"), 404)


async def test_enqueue_auto_creates_queue_with_defaults(client: httpx.AsyncClient) -> None:
    await enqueue(client, queue="fresh")
    body = await stats(client, "fresh")
    assert body["config"]["max_attempts"] == 5
    assert body["config"]["visibility_timeout_s"] == 60
    assert body["available"] == 1
    listed = (await client.get("/api/v1/queues")).json()["items"]
    assert [q["name"] for q in listed] == ["fresh"]


async def test_lease_expiry_and_late_complete_is_409(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    await configure(client, visibility_timeout_s=1)
    task = await enqueue(client)
    (old,) = await lease(client, worker="w1")
    assert await lease(client, worker="w2") == []  # still leased

    deadline = time.monotonic() + 10
    newer: list[Json] = []
    while not newer and time.monotonic() < deadline:
        newer = await lease(client, worker="w2", wait_s=0.5)
    assert newer, "the expired lease was never reclaimed"
    (new,) = newer
    assert new["id"] == task["id"]
    assert new["attempt"] == 2
    assert new["lease_id"] != old["lease_id"]

    before = task_row(db, task["id"])
    late = await client.post(f"/api/v1/leases/{old['lease_id']}/complete", json={"result": 1})
    assert_problem(late, 409)
    assert_problem(await client.post(f"/api/v1/leases/{old['lease_id']}/fail", json={}), 409)
    after = task_row(db, task["id"])
    assert after == {**before, "now": after["now"]}, "a late answer changed the newer attempt"
    assert after["status"] == "in_progress"

    done = await client.post(f"/api/v1/leases/{new['lease_id']}/complete", json={})
    assert done.status_code == 200
    assert event_types(db, task["id"]) == [
        "task.created",
        "task.updated",
        "task.failed",
        "task.updated",
        "task.completed",
    ]


async def test_heartbeat_extends_the_lease(client: httpx.AsyncClient) -> None:
    await configure(client, visibility_timeout_s=2)
    await enqueue(client)
    (held,) = await lease(client, worker="w1")
    started = time.monotonic()
    while time.monotonic() - started < 3.5:  # well past the 2 s visibility timeout
        await asyncio.sleep(0.7)
        beat = await client.post(
            f"/api/v1/leases/{held['lease_id']}/heartbeat", json={"worker_id": "w1"}
        )
        assert beat.status_code == 200, beat.text
        assert await lease(client, worker="w2") == []
    foreign = await client.post(
        f"/api/v1/leases/{held['lease_id']}/complete", json={"worker_id": "w2"}
    )
    assert_problem(foreign, 409)
    done = await client.post(f"/api/v1/leases/{held['lease_id']}/complete", json={})
    assert done.status_code == 200


async def test_task_timeout_caps_the_lease(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    await configure(client, visibility_timeout_s=600)
    task = await enqueue(client, timeout_s=1)
    (held,) = await lease(client)
    await client.post(f"/api/v1/leases/{held['lease_id']}/heartbeat", json={})
    row = task_row(db, task["id"])
    allowed = 1 + 5  # timeout_s plus the default grace for the worker to report it
    assert (row["lease_expires_at"] - row["leased_at"]).total_seconds() <= allowed
    untimed = await enqueue(client)
    (held_untimed,) = await lease(client)
    assert held_untimed["id"] == untimed["id"]
    row = task_row(db, untimed["id"])
    assert (row["lease_expires_at"] - row["leased_at"]).total_seconds() > 500


async def test_retry_backoff_is_exponential_with_full_jitter_and_capped(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    await configure(client, backoff_base_s=100, backoff_max_s=150, max_attempts=5)
    count = 40
    await enqueue_many(client, count)

    async def fail_all(expected_attempt: int) -> list[float]:
        leased = await lease(client, max_tasks=count)
        assert len(leased) == count
        delays = []
        for task in leased:
            assert task["attempt"] == expected_attempt
            failed = await client.post(
                f"/api/v1/leases/{task['lease_id']}/fail", json={"error": "boom"}
            )
            assert failed.status_code == 200, failed.text
            assert failed.json()["status"] == "retrying"
            row = task_row(db, task["id"])
            assert row["last_error"] == "boom"
            delays.append((row["run_at"] - row["now"]).total_seconds())
        return delays

    first = await fail_all(1)
    assert all(-1 <= d <= 100 for d in first), first  # uniform(0, base)
    assert max(first) > 50, first
    # Make every retry due now instead of waiting up to 100 s.
    db.execute("UPDATE tasks.tasks SET run_at = now() WHERE queue = %s", (Q,))
    second = await fail_all(2)
    assert all(-1 <= d <= 150 for d in second), second  # min(cap 150, base * 2)
    assert max(second) > 100, second  # the window doubled
    current = await stats(client)
    assert current["retrying"] + current["available"] == count
    assert current["failed_total"] == 2 * count


async def test_dead_letter_after_max_attempts_and_retry(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    await configure(client, max_attempts=2, backoff_base_s=0, backoff_max_s=0)
    task = await enqueue(client)
    for attempt, status in ((1, "retrying"), (2, "dead")):
        (held,) = await lease(client)
        assert held["attempt"] == attempt
        failed = await client.post(f"/api/v1/leases/{held['lease_id']}/fail", json={"error": "e"})
        assert failed.json()["status"] == status
    assert await lease(client) == []
    assert "task.dead" in event_types(db, task["id"])
    dead = (await client.get(f"/api/v1/queues/{Q}/dead")).json()
    assert [d["id"] for d in dead] == [task["id"]]
    assert (await stats(client))["dead"] == 1

    retried = await client.post(f"/api/v1/queues/{Q}/dead/{task['id']}/retry")
    assert retried.status_code == 200
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    assert_problem(await client.post(f"/api/v1/queues/{Q}/dead/{task['id']}/retry"), 404)
    (again,) = await lease(client)
    assert again["attempt"] == 1

    poison = await enqueue(client)
    (held,) = await lease(client)
    assert held["id"] == poison["id"]
    fatal = {"error": "bad input", "retryable": False}
    response = await client.post(f"/api/v1/leases/{held['lease_id']}/fail", json=fatal)
    assert response.json()["status"] == "dead"


async def test_dedupe_key_one_live_task_per_key(client: httpx.AsyncClient) -> None:
    first = await enqueue(client, dedupe_key="order-1", payload={"v": 1})
    response = await client.post(
        f"/api/v1/queues/{Q}/tasks", json={"dedupe_key": "order-1", "payload": {"v": 2}}
    )
    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    assert response.json()["deduplicated"] is True
    batch = await client.post(
        f"/api/v1/queues/{Q}/tasks",
        json={"tasks": [{"dedupe_key": "order-1"}, {"dedupe_key": "b"}, {"dedupe_key": "b"}]},
    )
    ids = [t["id"] for t in batch.json()["tasks"]]
    assert ids[0] == first["id"]
    assert ids[1] == ids[2]
    assert ids[1] != first["id"]
    assert (await stats(client))["available"] == 2
    # Another queue has its own keys.
    assert (await enqueue(client, queue="other", dedupe_key="order-1"))["id"] != first["id"]

    (held,) = await lease(client)
    await client.post(f"/api/v1/leases/{held['lease_id']}/complete", json={})
    fresh = await client.post(f"/api/v1/queues/{Q}/tasks", json={"dedupe_key": "order-1"})
    assert fresh.status_code == 201
    assert fresh.json()["id"] != first["id"]


async def test_delayed_tasks_wait_for_run_at(client: httpx.AsyncClient) -> None:
    await configure(client)
    delayed = await enqueue(client, delay_s=1.5)
    later = await enqueue(client, run_at="2999-01-01T00:00:00Z")
    assert delayed["status"] == later["status"] == "scheduled"
    assert await lease(client) == []
    current = await stats(client)
    assert (current["scheduled"], current["available"]) == (2, 0)

    got: list[Json] = []
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        got = await lease(client, wait_s=1)
    assert [t["id"] for t in got] == [delayed["id"]]
    assert datetime.fromisoformat(got[0]["lease_expires_at"]) > datetime.fromisoformat(
        delayed["run_at"]
    )
    assert await lease(client) == []


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
    db.execute("UPDATE tasks.tasks SET attempts = 2 WHERE id = %s", (doomed["id"],))
    db.execute("UPDATE tasks.tasks SET lease_expires_at = now() - interval '1 second'")
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
    assert task_row(db, waiting["id"])["status"] == "cancelled"
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


def event_data(db: psycopg.Connection[Any], task_id: str) -> list[tuple[str, Json]]:
    rows = db.execute(
        "SELECT type, data FROM tasks.events WHERE task_id = %s ORDER BY id", (task_id,)
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


async def test_events_carry_each_change(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    await configure(client, max_attempts=2, backoff_base_s=0, backoff_max_s=0)
    task = await enqueue(client, dedupe_key="k1")
    (held,) = await lease(client, worker="w1")
    await client.post(f"/api/v1/leases/{held['lease_id']}/fail", json={"error": "e1"})
    (held,) = await lease(client, worker="w2")
    await client.post(f"/api/v1/leases/{held['lease_id']}/fail", json={"error": "e2"})
    events = event_data(db, task["id"])
    assert [type_ for type_, _ in events] == [
        "task.created",
        "task.updated",
        "task.failed",
        "task.updated",
        "task.failed",
        "task.dead",
    ]
    created, leased, retried, _, failed, dead = (data for _, data in events)
    assert created == {"status": "pending", "attempt": 0, "dedupe_key": "k1"}
    assert leased == {"status": "in_progress", "attempt": 1, "worker_id": "w1"}
    assert retried.pop("retry_at")  # the time the retry becomes due
    assert retried == {"status": "retrying", "attempt": 1, "error": "e1", "retryable": True}
    assert failed == {"status": "dead", "attempt": 2, "error": "e2", "retryable": True}
    assert dead == {"status": "dead", "attempt": 2, "error": "e2"}

    other = await enqueue(client)
    (held,) = await lease(client)
    await client.post(f"/api/v1/leases/{held['lease_id']}/complete", json={"result": [1]})
    assert event_data(db, other["id"])[-1] == (
        "task.completed",
        {"status": "completed", "attempt": 1},
    )
    assert task_row(db, other["id"])["result"] == [1]


async def test_batch_complete_judges_each_lease_on_its_own(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    await enqueue_many(client, 4)
    mine = await lease(client, max_tasks=3, worker="w1")
    (theirs,) = await lease(client, worker="w2")
    unknown = str(uuid.uuid4())
    items = [
        {"lease_id": mine[0]["lease_id"], "result": {"n": 0}},
        {"lease_id": unknown},
        {"lease_id": theirs["lease_id"]},
        {"lease_id": mine[1]["lease_id"]},
    ]
    response = await client.post(
        "/api/v1/leases/complete", json={"worker_id": "w1", "items": items}
    )
    assert response.status_code == 200, response.text
    results = response.json()["items"]
    assert [r["lease_id"] for r in results] == [item["lease_id"] for item in items]
    assert [r["completed"] for r in results] == [True, False, False, True]
    assert results[0]["task"]["id"] == mine[0]["id"]
    assert results[0]["task"]["status"] == "completed"
    assert results[1]["task"] is None
    assert task_row(db, mine[0]["id"])["result"] == {"n": 0}
    assert task_row(db, mine[1]["id"])["result"] is None
    assert task_row(db, mine[2]["id"])["status"] == "in_progress"
    assert task_row(db, theirs["id"])["status"] == "in_progress", "another worker's lease"
    for task in mine[:2]:
        assert event_types(db, task["id"]) == ["task.created", "task.updated", "task.completed"]
    assert event_types(db, theirs["id"]) == ["task.created", "task.updated"]
    assert (await stats(client))["completed_total"] == 2

    # Already completed: nothing changes the second time (what a single complete 409s).
    again = await client.post("/api/v1/leases/complete", json={"items": items[:1]})
    assert again.json()["items"][0]["completed"] is False
    assert (await stats(client))["completed_total"] == 2
    # Without worker_id any holder's valid lease completes.
    done = await client.post(
        "/api/v1/leases/complete", json={"items": [{"lease_id": theirs["lease_id"]}]}
    )
    assert done.json()["items"][0]["completed"] is True

    twice = [{"lease_id": mine[2]["lease_id"]}, {"lease_id": mine[2]["lease_id"]}]
    assert_problem(await client.post("/api/v1/leases/complete", json={"items": twice}), 422)
    assert_problem(await client.post("/api/v1/leases/complete", json={"items": []}), 422)
    too_many = [{"lease_id": str(uuid.uuid4())} for _ in range(1001)]
    assert_problem(await client.post("/api/v1/leases/complete", json={"items": too_many}), 422)
    assert task_row(db, mine[2]["id"])["status"] == "in_progress"


async def test_wake_ups_are_sent_when_work_becomes_available(
    client: httpx.AsyncClient, task_db_url: str
) -> None:
    """NOTIFY on the queue channel for what can unblock a long-poll: new available tasks
    in a queue that had none, a completion that frees a ``max_in_flight`` slot, a failure
    or a release that makes an empty queue non-empty; nothing into a non-empty queue."""
    await configure(client, max_in_flight=5, backoff_base_s=0, backoff_max_s=0)
    await configure(client, "plain")
    with psycopg.connect(task_db_url, autocommit=True) as listener:
        listener.execute("LISTEN taskplane_queue")

        def heard() -> list[str]:
            return [note.payload for note in listener.notifies(timeout=0.3, stop_after=10)]

        heard()  # the configure calls' own wake-ups
        await enqueue_many(client, 2)
        assert heard() == [Q]  # once for the whole batch
        await enqueue(client)
        assert heard() == [], "the queue had work: no leaser was waiting"
        await enqueue(client, delay_s=3600)
        assert heard() == [], "nothing available now, nobody to wake"
        first, second, third = await lease(client, max_tasks=3)
        await client.post(f"/api/v1/leases/{first['lease_id']}/complete", json={})
        assert heard() == [Q], "a completion frees a max_in_flight slot"
        await client.post(f"/api/v1/leases/{second['lease_id']}/fail", json={"error": "x"})
        assert heard() == [Q]
        (retried,) = await lease(client)
        assert retried["id"] == second["id"]
        await client.post(f"/api/v1/leases/{third['lease_id']}/release", json={})
        assert heard() == [Q]

        await enqueue(client, "plain")
        assert heard() == ["plain"]
        (held,) = await lease(client, "plain")
        await client.post(f"/api/v1/leases/{held['lease_id']}/complete", json={})
        assert heard() == [], "no limit: a completion makes nothing available"


async def test_lease_reclaims_expired_leases_of_its_queue_and_tops_up(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    created = await enqueue_many(client, 3)
    old = await lease(client, max_tasks=2, worker="w1")
    db.execute(
        "UPDATE tasks.tasks SET lease_expires_at = now() - interval '1 second'"
        " WHERE status = 'in_progress'"
    )
    fresh = await lease(client, max_tasks=3, worker="w2")  # no reaper pass in between
    assert sorted(t["id"] for t in fresh) == sorted(t["id"] for t in created)
    old_ids = {t["id"] for t in old}
    assert sorted(t["attempt"] for t in fresh) == [1, 2, 2]
    assert {t["id"] for t in fresh if t["attempt"] == 2} == old_ids
    for task in old:
        late = await client.post(f"/api/v1/leases/{task['lease_id']}/complete", json={})
        assert_problem(late, 409)
        assert event_types(db, task["id"]) == [
            "task.created",
            "task.updated",
            "task.failed",
            "task.updated",
        ]


async def test_lease_on_paused_or_limited_queue_claims_nothing_extra(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    await configure(client, paused=True)
    await enqueue_many(client, 3)
    assert await lease(client, max_tasks=3) == []
    pending = db.execute(
        "SELECT count(*) FROM tasks.tasks WHERE queue = %s AND status = 'pending'", (Q,)
    ).fetchone()
    assert pending == (3,)
    await configure(client, max_in_flight=2)
    assert len(await lease(client, max_tasks=3)) == 2
    await configure(client, rate_limit_per_s=1)
    assert len(await lease(client, max_tasks=3)) == 1


async def test_a_payload_with_an_integer_past_64_bits_is_listed_and_read(
    client: httpx.AsyncClient,
) -> None:
    """JSON numbers have no size limit and jsonb keeps them: the task list (encoded by
    orjson, which stops at 64 bits) was a 500 once such a payload was queued."""
    huge = 2**70
    task = await enqueue(client, payload={"n": huge, "nested": [-(2**65)]})
    assert task["payload"] == {"n": huge, "nested": [-(2**65)]}

    listed = await client.get("/api/v1/tasks", params={"limit": 1000})
    assert listed.status_code == 200, listed.text
    (item,) = [i for i in listed.json()["items"] if i["id"] == task["id"]]
    assert item["queue"]["payload"]["n"] == huge

    read = await client.get(f"/api/v1/tasks/{task['id']}")
    assert read.status_code == 200, read.text
    assert read.json()["queue"]["payload"]["nested"] == [-(2**65)]
