"""Queue storage: sequential keys, the ids-only bulk enqueue, the feed's rate-limited
NOTIFY and which table a job is in (live or finished), on a real PostgreSQL (no timing
assertions: the rate limit is driven through its sequence, not the clock)."""

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


async def test_enqueue_answers_in_input_order_with_the_dedupe_holder(
    task_db_url: str, db: psycopg.Connection[Any]
) -> None:
    """The enqueue (one ``unnest`` insert) writes whole tasks and their events, and
    answers a deduplicated item with the live task holding its key."""
    items = [
        TaskEnqueue(payload={"n": 1}, dedupe_key="k"),
        TaskEnqueue(payload={"n": 2}, title="second", priority="high", delay_s=3600),
        TaskEnqueue(payload={"n": 3}, dedupe_key="k", max_attempts=2, timeout_s=9),
    ]
    async with await psycopg.AsyncConnection.connect(task_db_url, autocommit=True) as connection:
        tasks = await queue.enqueue(connection, DEV_PRINCIPAL, Q, items, None)
        again = await queue.enqueue(connection, DEV_PRINCIPAL, Q, items[2:], None)
    ids = [task.id for task in tasks]
    assert [ids[2], again[0].id] == [ids[0], ids[0]], "the live holder of key k answers"
    assert [task.deduplicated for task in (*tasks, *again)] == [False, False, True, True]
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


def _where(db: psycopg.Connection[Any]) -> dict[str, tuple[str, str]]:
    """Every job's table and status, by title."""
    rows = db.execute(
        "SELECT title, 'live', status FROM tasks.queue_jobs"
        " UNION ALL SELECT title, 'finished', status FROM tasks.queue_jobs_finished"
    ).fetchall()
    return {title: (table, status) for title, table, status in rows}


async def test_a_job_leaves_the_live_table_when_it_finishes_and_a_retry_brings_it_back(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    """Complete, a last failed attempt and cancel move a job to the finished table (with
    ``finished_at``, its result and the lease gone); a dead-letter retry moves it back; a
    finished job no longer holds its dedupe key; plain tasks are not touched."""
    api = f"/api/v1/queues/{Q}"
    for title in ("done", "dies", "cancelled", "waits"):
        created = await client.post(f"{api}/tasks", json={"title": title, "dedupe_key": title})
        assert created.status_code == 201, created.text
    leased = await client.post(f"{api}/leases", json={"worker_id": "w", "max_tasks": 2})
    by_title = {task["title"]: task for task in leased.json()["tasks"]}
    done = await client.post(
        f"/api/v1/leases/{by_title['done']['lease_id']}/complete", json={"result": [1]}
    )
    assert done.status_code == 200, done.text
    dies = by_title["dies"]
    failed = await client.post(
        f"/api/v1/leases/{dies['lease_id']}/fail", json={"error": "no", "retryable": False}
    )
    assert failed.status_code == 200, failed.text
    cancelled = _where_id(db, "cancelled")
    assert (await client.post(f"/api/v1/tasks/{cancelled}/cancel")).status_code == 200

    assert _where(db) == {
        "done": ("finished", "completed"),
        "dies": ("finished", "dead"),
        "cancelled": ("finished", "cancelled"),
        "waits": ("live", "pending"),
    }
    finished = db.execute(
        "SELECT result, lease_id, finished_at = updated_at FROM tasks.queue_jobs_finished"
        " WHERE title = 'done'"
    ).fetchone()
    assert finished == ([1], None, True)
    again = await client.post(f"{api}/tasks", json={"title": "done 2", "dedupe_key": "done"})
    assert again.status_code == 201, "a finished job no longer holds its key"

    retried = await client.post(f"{api}/dead/{dies['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert _where(db)["dies"] == ("live", "pending")
    assert db.execute("SELECT count(*) FROM tasks.tasks").fetchone() == (0,)


def _where_id(db: psycopg.Connection[Any], title: str) -> str:
    row = db.execute("SELECT id FROM tasks.queue_jobs WHERE title = %s", (title,)).fetchone()
    assert row is not None
    return str(row[0])
