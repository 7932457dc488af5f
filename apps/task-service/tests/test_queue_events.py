"""Queue events, batch completion and wake-ups through the HTTP API on a real PostgreSQL:
what each change records and whom it wakes (bounded waits only)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg

from taskplane_testing.http import assert_problem

from .conftest import Json, Q, configure, enqueue, enqueue_many, event_types, lease, stats, task_row


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
        "UPDATE tasks.queue_jobs SET lease_expires_at = now() - interval '1 second'"
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
        "SELECT count(*) FROM tasks.queue_tasks WHERE queue = %s AND status = 'pending'", (Q,)
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
    orjson, which stops at 64 bits) was a 500 once such a payload was queued. A queue's
    jobs are listed by their queue's route."""
    huge = 2**70
    task = await enqueue(client, payload={"n": huge, "nested": [-(2**65)]})
    assert task["payload"] == {"n": huge, "nested": [-(2**65)]}

    listed = await client.get(f"/api/v1/queues/{Q}/tasks", params={"limit": 1000})
    assert listed.status_code == 200, listed.text
    (item,) = [i for i in listed.json()["items"] if i["id"] == task["id"]]
    assert item["queue"]["payload"]["n"] == huge

    read = await client.get(f"/api/v1/tasks/{task['id']}")
    assert read.status_code == 200, read.text
    assert read.json()["queue"]["payload"]["nested"] == [-(2**65)]
