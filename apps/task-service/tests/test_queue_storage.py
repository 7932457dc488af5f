"""Queue storage: sequential keys, the ids-only bulk enqueue and the feed's rate-limited
NOTIFY, on a real PostgreSQL (no timing assertions: the rate limit is driven through its
sequence, not the clock)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import psycopg

from task_service import queue
from task_service.queue.ids import uuid7s
from task_service.queue.notify import QUEUE_CHANNEL, Notifier
from task_service.queue.schemas import TaskEnqueue
from taskplane_common.principals import DEV_PRINCIPAL

Q = "storage"


def _millis(value: uuid.UUID) -> int:
    return value.int >> 80


def test_uuid7s_are_version_7_increasing_and_carry_the_time() -> None:
    before = time.time_ns() // 1_000_000
    ids = uuid7s(500)
    after = time.time_ns() // 1_000_000
    assert {(value.version, value.variant) for value in ids} == {(7, uuid.RFC_4122)}
    assert ids == sorted(ids), "one batch's keys are in order"
    assert len(set(ids)) == len(ids)
    assert all(before <= _millis(value) <= after for value in ids)


async def test_queued_tasks_and_leases_get_sequential_keys(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    """Task ids (made by the service) and lease ids (made by PostgreSQL) are UUIDv7 with
    the current time, and the task API still reads a queued task by its id."""
    tasks = [{"payload": {"n": n}} for n in range(5)]
    response = await client.post(f"/api/v1/queues/{Q}/tasks", json={"tasks": tasks})
    assert response.status_code == 201, response.text
    ids = [uuid.UUID(task["id"]) for task in response.json()["tasks"]]
    assert [value.version for value in ids] == [7] * 5
    assert ids == sorted(ids)
    assert [task["payload"] for task in response.json()["tasks"]] == [{"n": n} for n in range(5)]

    leased = await client.post(
        f"/api/v1/queues/{Q}/leases", json={"worker_id": "w", "max_tasks": 5}
    )
    assert leased.status_code == 200, leased.text
    lease_ids = [uuid.UUID(task["lease_id"]) for task in leased.json()["tasks"]]
    assert len(lease_ids) == 5
    now = db.execute("SELECT floor(extract(epoch FROM now()) * 1000)::bigint").fetchone()
    assert now is not None
    for lease_id in lease_ids:
        assert (lease_id.version, lease_id.variant) == (7, uuid.RFC_4122)
        assert abs(_millis(lease_id) - now[0]) < 600_000, "the lease id starts with its time"

    read = await client.get(f"/api/v1/tasks/{ids[0]}")
    assert read.status_code == 200, read.text
    assert read.json()["id"] == str(ids[0])


async def test_enqueue_ids_returns_ids_in_input_order_and_the_dedupe_holder(
    task_db_url: str, db: psycopg.Connection[Any]
) -> None:
    """The ids-only enqueue (one ``unnest`` insert) writes whole tasks and their events,
    and answers a deduplicated item with the id of the live task holding its key."""
    items = [
        TaskEnqueue(payload={"n": 1}, dedupe_key="k"),
        TaskEnqueue(payload={"n": 2}, title="second", priority="high", delay_s=3600),
        TaskEnqueue(payload={"n": 3}, dedupe_key="k", max_attempts=2, timeout_s=9),
    ]
    async with await psycopg.AsyncConnection.connect(task_db_url, autocommit=True) as connection:
        ids = await queue.enqueue_ids(connection, DEV_PRINCIPAL, Q, items, None)
        again = await queue.enqueue_ids(connection, DEV_PRINCIPAL, Q, items[2:], None)
    assert [ids[2], *again] == [ids[0], ids[0]], "the live holder of key k answers"
    assert ids[0] != ids[1]
    rows = db.execute(
        "SELECT id, title, status, priority, payload, max_attempts, timeout_s, dedupe_key"
        " FROM tasks.queue_tasks WHERE queue = %s ORDER BY id",
        (Q,),
    ).fetchall()
    assert rows == [
        (ids[0], Q, "pending", 1, {"n": 1}, None, None, "k"),
        (ids[1], "second", "scheduled", 2, {"n": 2}, None, None, None),
    ]
    created = db.execute(
        "SELECT task_id FROM tasks.events WHERE type = 'task.created' ORDER BY id"
    ).fetchall()
    assert created == [(ids[0],), (ids[1],)]


async def test_the_feed_notifies_at_most_once_per_interval(
    client: httpx.AsyncClient, task_db_url: str, db: psycopg.Connection[Any]
) -> None:
    """A statement that writes events notifies the feed only when the last notification
    is older than the interval (its time is the sequence ``tasks.feed_notified_ms``)."""
    with psycopg.connect(task_db_url, autocommit=True) as listener:
        listener.execute("LISTEN taskplane_events")

        def heard() -> int:
            return len(list(listener.notifies(timeout=0.3, stop_after=10)))

        db.execute("SELECT setval('tasks.feed_notified_ms', 0)")
        response = await client.post(f"/api/v1/queues/{Q}/tasks", json={"payload": {}})
        assert response.status_code == 201, response.text
        # At least one: the app's own maintenance may write (no) events meanwhile.
        assert heard() >= 1, "the first events in a quiet feed wake its readers"
        last = db.execute("SELECT last_value FROM tasks.feed_notified_ms").fetchone()
        assert last is not None
        assert last[0] > 0

        # A notification "just sent" (in the future, so however slow this machine is):
        # the next writes stay quiet, and readers pick them up on the listener's echo.
        db.execute(
            "SELECT setval('tasks.feed_notified_ms',"
            " (extract(epoch FROM now()) * 1000)::bigint + 3600000)"
        )
        try:
            response = await client.post(f"/api/v1/queues/{Q}/tasks", json={"payload": {}})
            assert response.status_code == 201, response.text
            assert heard() == 0
        finally:
            db.execute("SELECT setval('tasks.feed_notified_ms', 0)")
    events = db.execute("SELECT count(*) FROM tasks.events WHERE queue = %s", (Q,)).fetchone()
    assert events == (2,), "the quiet write still wrote its event"


async def test_a_subscription_keeps_a_notification_that_arrives_between_waits(
    task_db_url: str, db: psycopg.Connection[Any]
) -> None:
    """A long-poll subscribes before its first claim: a queue's NOTIFY (sent only when it
    goes from empty to non-empty) that lands while the claim runs wakes the next wait at
    once instead of being lost until the poll interval (an hour here)."""
    notifier = Notifier(task_db_url, poll_interval_s=3600)
    notifier.start()
    try:
        await asyncio.wait_for(notifier.connected.wait(), 30)
        with (
            notifier.subscribe(QUEUE_CHANNEL, Q) as waiting,
            notifier.subscribe(QUEUE_CHANNEL, Q) as claiming,
        ):
            db.execute("SELECT pg_notify(%s, %s)", (QUEUE_CHANNEL, Q))
            await asyncio.wait_for(waiting.wait(60), 30)  # the notification has arrived
            await asyncio.wait_for(claiming.wait(60), 30)  # and was kept for this one
    finally:
        await notifier.stop()
