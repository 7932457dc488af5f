"""Queue engine through the HTTP API on a real PostgreSQL, the lease lifecycle: leasing,
expiry, heartbeats, retries, dead letters, dedupe and delays (each feature has a test that
fails without it; bounded waits only, no timing assertions)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import psycopg

from taskplane_testing.http import assert_problem

from .conftest import Json, Q, configure, enqueue, enqueue_many, event_types, lease, stats, task_row


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
    assert row_count("tasks.queue_tasks") == 0

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
    db.execute("UPDATE tasks.queue_jobs SET run_at = now() WHERE queue = %s", (Q,))
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
