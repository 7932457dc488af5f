"""Retention on a real PostgreSQL: the cleaner deletes exactly what is past its window,
in bounded batches, while a concurrent drain completes every task exactly once; a feed
cursor behind the deleted events is a 410, never a silent gap."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI

from task_service.queue import statements
from task_service.queue.driver import execute
from task_service.queue.maintenance.cleaner import Cleaner
from task_service.queue.sql import JOB_COLUMNS as COLUMNS
from taskplane_testing.http import assert_problem

Json = dict[str, Any]
HOUR = 3600
JOB_COLUMNS = ", ".join(COLUMNS)
#: Move live jobs ``%s`` to the finished table with the status ``%s``, finished now.
_FINISH = (
    "WITH gone AS (DELETE FROM tasks.queue_jobs WHERE id = ANY(%s::uuid[]) RETURNING *)"  # noqa: S608
    f" INSERT INTO tasks.queue_jobs_finished ({JOB_COLUMNS}, finished_at)"
    f" SELECT {JOB_COLUMNS.replace('status', '%s')}, now() FROM gone"
)


async def put_queue(client: httpx.AsyncClient, queue: str, **config: Any) -> None:
    response = await client.put(f"/api/v1/queues/{queue}", json=config)
    assert response.status_code in (200, 201), response.text


async def enqueue(client: httpx.AsyncClient, queue: str, count: int) -> list[str]:
    tasks = [{"payload": {"n": n}} for n in range(count)]
    response = await client.post(f"/api/v1/queues/{queue}/tasks", json={"tasks": tasks})
    assert response.status_code == 201, response.text
    return [task["id"] for task in response.json()["tasks"]]


def finish(db: psycopg.Connection[Any], ids: list[str], status: str, age_s: int) -> None:
    """Make ``ids`` queue jobs that reached ``status`` ``age_s`` seconds ago (moved to
    the finished table as the engine moves them, then aged: a finished job's
    ``updated_at`` is its ``finished_at``)."""
    db.execute(_FINISH, (ids, status))
    db.execute(
        "UPDATE tasks.queue_jobs_finished SET finished_at = now() - make_interval(secs => %s),"
        " updated_at = now() - make_interval(secs => %s) WHERE id = ANY(%s::uuid[])",
        (age_s, age_s, ids),
    )


def task_ids(db: psycopg.Connection[Any]) -> set[str]:
    """Every task's id: plain tasks and queue jobs, live or finished."""
    rows = db.execute("SELECT id FROM tasks.tasks UNION ALL SELECT id FROM tasks.queue_tasks")
    return {str(row[0]) for row in rows}


def cleaner(app: FastAPI, batch: int) -> Cleaner:
    return Cleaner(app.state.database, interval_s=1, batch=batch, event_retention_s=HOUR)


async def test_the_cleaner_deletes_exactly_what_retention_allows(
    app: FastAPI, client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    windows = {"completed": HOUR, "cancelled": 2 * HOUR, "dead": 3 * HOUR}
    await put_queue(client, "kept", **{f"{status}_retention_s": s for status, s in windows.items()})
    doomed: set[str] = set()
    for status, window in windows.items():
        old, young = await enqueue(client, "kept", 9), await enqueue(client, "kept", 2)
        finish(db, old, status, window + 60)
        finish(db, young, status, window - 60)
        doomed |= set(old)
    # A queue keeping tasks forever, an old live backlog, and a plain (non-queue) task.
    await put_queue(client, "forever", completed_retention_s=None)
    finish(db, await enqueue(client, "forever", 3), "completed", 400 * 24 * HOUR)
    db.execute(
        "UPDATE tasks.queue_jobs SET updated_at = now() - interval '90 days'"
        " WHERE id = ANY(%s::uuid[])",
        (await enqueue(client, "kept", 2),),
    )
    plain = await client.post("/api/v1/tasks", json={"title": "human", "status": "completed"})
    db.execute(
        "UPDATE tasks.tasks SET updated_at = now() - interval '400 days' WHERE id = %s",
        (plain.json()["id"],),
    )

    # Events: the oldest 10 in feed order are past the feed's retention.
    feed = db.execute("SELECT id FROM tasks.events ORDER BY tx_id, id").fetchall()
    old_events = [row[0] for row in feed[:10]]
    db.execute(
        "UPDATE tasks.events SET occurred_at = now() - interval '2 hours' WHERE id = ANY(%s)",
        (old_events,),
    )
    # Idempotency keys: expired long ago, expired just now, still valid.
    for key, expires in (("gone", "-2 hours"), ("recent", "-10 minutes"), ("live", "1 hour")):
        db.execute(
            "INSERT INTO tasks.idempotency_keys (scope, key, request_hash, expires_at)"
            " VALUES ('s', %s, 'h', now() + %s::interval)",
            (key, expires),
        )
    before = task_ids(db)
    events_before = db.execute("SELECT count(*) FROM tasks.events").fetchone()

    # One statement deletes at most one batch.
    async with app.state.database.session() as session:
        first = await execute(session, statements.CLEAN_TASKS, {"batch": 7})
        assert first == [{"deleted": 7}]
    deleted = await cleaner(app, batch=7).clean_all()

    assert deleted == {"tasks": len(doomed) - 7, "events": 10, "idempotency_keys": 1}
    assert task_ids(db) == before - doomed
    assert db.execute(
        "SELECT count(*) FROM tasks.events WHERE id = ANY(%s)", (old_events,)
    ).fetchone() == (0,)
    assert events_before is not None
    assert db.execute("SELECT count(*) FROM tasks.events").fetchone() == (events_before[0] - 10,)
    keys = {row[0] for row in db.execute("SELECT key FROM tasks.idempotency_keys")}
    assert keys == {"recent", "live"}
    assert await cleaner(app, batch=7).clean_all() == {
        "tasks": 0,
        "events": 0,
        "idempotency_keys": 0,
    }
    metrics = (await client.get("/metrics")).text
    assert 'taskplane_queue_cleaner_rows_deleted_total{table="tasks"}' in metrics


async def test_the_cleaner_runs_beside_a_drain_that_completes_every_task_once(
    app: FastAPI, client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    """1,000 expired tasks are deleted five at a time while four consumers drain 400
    new ones from the same queue: the cleaner takes exactly the expired ones and every
    new task completes exactly once."""
    await put_queue(client, "busy", completed_retention_s=HOUR)
    expired = await enqueue(client, "busy", 1000)
    finish(db, expired, "completed", 2 * HOUR)
    ids = await enqueue(client, "busy", 400)
    completed: Counter[str] = Counter()

    async def consume(worker: str) -> None:
        while len(completed) < len(ids):
            response = await client.post(
                "/api/v1/queues/busy/leases",
                json={"worker_id": worker, "max_tasks": 10, "wait_s": 0.2},
            )
            leased = response.json()["tasks"]
            items = [{"lease_id": task["lease_id"]} for task in leased]
            if items:
                done = await client.post("/api/v1/leases/complete", json={"items": items})
                assert all(item["completed"] for item in done.json()["items"]), done.text
                completed.update(task["id"] for task in leased)

    consumers = [consume(f"w{n}") for n in range(4)]
    *_, deleted = await asyncio.wait_for(
        asyncio.gather(*consumers, cleaner(app, batch=5).clean_all()), timeout=120
    )

    assert deleted["tasks"] == len(expired)
    assert task_ids(db) == set(ids)
    assert sorted(completed) == sorted(ids)
    assert set(completed.values()) == {1}
    rows = db.execute(
        "SELECT status, attempts, count(*) FROM tasks.queue_tasks GROUP BY status, attempts"
    ).fetchall()
    assert rows == [("completed", 1, len(ids))]
    events = db.execute(
        "SELECT count(*), count(DISTINCT task_id) FROM tasks.events"
        " WHERE type = 'task.completed' AND task_id = ANY(%s::uuid[])",
        (ids,),
    ).fetchone()
    assert events == (len(ids), len(ids))
    stats = (await client.get("/api/v1/queues/busy")).json()
    assert (stats["completed_total"], stats["failed_total"]) == (len(ids), 0)


async def test_a_feed_cursor_behind_deleted_events_is_gone(
    app: FastAPI, client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    await enqueue(client, "feed", 6)
    page = (await client.get("/api/v1/events", params={"after": "0-0", "limit": 2})).json()
    reader_cursor = page["next_cursor"]
    db.execute(
        "UPDATE tasks.events SET occurred_at = now() - interval '2 hours'"
        " WHERE id IN (SELECT id FROM tasks.events ORDER BY tx_id, id LIMIT 4)"
    )
    assert (await cleaner(app, batch=100).clean_all())["events"] == 4

    for behind in ("0-0", reader_cursor):
        gone = await client.get("/api/v1/events", params={"after": behind})
        problem = assert_problem(gone, 410)
        assert "deleted by retention" in problem["detail"]
    resume = problem["resume_after"]
    kept = (await client.get("/api/v1/events", params={"after": resume})).json()["items"]
    assert len(kept) == 2
    # Omitting the cursor starts at the oldest event kept, never a 410.
    assert (await client.get("/api/v1/events")).json()["items"] == kept


async def test_dead_letters_page_with_a_cursor(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    ids = await enqueue(client, "graveyard", 5)
    for age, task_id in enumerate(ids):
        finish(db, [task_id], "dead", age)  # ids[0] died last: listed first
    seen: list[str] = []
    url: str | None = "/api/v1/queues/graveyard/dead?limit=2"
    while url is not None:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        seen += [task["id"] for task in response.json()]
        url = response.links.get("next", {}).get("url")
    assert seen == ids
    malformed = await client.get(
        "/api/v1/queues/graveyard/dead", params={"cursor": f"{uuid.uuid4()}.x"}
    )
    assert_problem(malformed, 422)
    forged = await client.get("/api/v1/queues/graveyard/dead", params={"cursor": f"e30.{'A' * 22}"})
    assert_problem(forged, 400)
