"""Deleting a queue deletes every job it has, in every state: afterwards none is readable
by id (404 problem+json), a queue created again under the same name starts empty, the
feed tells each live job's cancellation (a finished job's removal, like retention's,
adds no event), the audit entry stays, and another queue is untouched. An enqueue
racing the deletion either lands before it (and goes with the queue) or after it (and
creates the queue anew), never in between; a dead-letter retry racing it goes first (and
its job with the queue) or finds its dead job gone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import psycopg
import pytest

from task_service import queue
from task_service.queue.schemas import TaskEnqueue
from taskplane_common.principals import DEV_PRINCIPAL
from taskplane_testing.http import assert_problem
from taskplane_testing.waiting import eventually

from .conftest import Json, configure, enqueue, event_types, lease, stats

Q = "doomed"
FINISHED = ("completed", "cancelled", "dead")
OTHER = "kept"
#: A lock wait of the deletion or an enqueue on a queue's advisory lock.
WAITING_ON_QUEUE_LOCK = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
#: A lock wait on a row (the deletion waiting for a job someone holds).
WAITING_ON_ROW = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE wait_event_type = 'Lock' AND wait_event IN ('transactionid', 'tuple')"
)


async def _fail(client: httpx.AsyncClient, held: Json) -> Json:
    response = await client.post(f"/api/v1/leases/{held['lease_id']}/fail", json={"error": "e"})
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


async def _one_job_per_state(client: httpx.AsyncClient) -> dict[str, Json]:
    """A job of ``Q`` in every state: pending (with a dedupe key), scheduled, retrying,
    in progress (its lease held), completed, cancelled, dead."""
    await configure(client, Q, max_attempts=1)
    jobs = {"completed": await enqueue(client, Q)}
    (held,) = await lease(client, Q)
    done = await client.post(f"/api/v1/leases/{held['lease_id']}/complete", json={})
    assert done.json()["status"] == "completed", done.text
    jobs["dead"] = await enqueue(client, Q)
    (held,) = await lease(client, Q)
    assert (await _fail(client, held))["status"] == "dead"
    jobs["in_progress"] = await enqueue(client, Q)
    (jobs["lease"],) = await lease(client, Q)
    jobs["retrying"] = await enqueue(client, Q, max_attempts=3)
    (held,) = await lease(client, Q)
    assert (await _fail(client, held))["status"] == "retrying"
    # No lease from here on: these stay as they are.
    jobs["pending"] = await enqueue(client, Q, dedupe_key="once")
    jobs["scheduled"] = await enqueue(client, Q, delay_s=3600)
    jobs["cancelled"] = await enqueue(client, Q)
    cancelled = await client.post(f"/api/v1/tasks/{jobs['cancelled']['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled", cancelled.text
    return jobs


async def test_a_deleted_queue_leaves_no_job_readable_and_a_new_one_starts_empty(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    jobs = await _one_job_per_state(client)
    held = jobs.pop("lease")
    kept = await enqueue(client, OTHER)
    ids = {state: job["id"] for state, job in jobs.items()}

    events_before = {task_id: event_types(db, task_id) for task_id in ids.values()}
    assert_problem(await client.delete(f"/api/v1/queues/{Q}"), 409)  # a lease is held
    for state, task_id in ids.items():  # the refusal changed nothing
        read = await client.get(f"/api/v1/tasks/{task_id}")
        assert read.json()["status"] == state, read.text
    assert (await client.delete(f"/api/v1/queues/{Q}?force=true")).status_code == 204

    for task_id in ids.values():
        for method, path in (
            ("GET", f"/api/v1/tasks/{task_id}"),
            ("DELETE", f"/api/v1/tasks/{task_id}"),
            ("POST", f"/api/v1/tasks/{task_id}/cancel"),
            ("POST", f"/api/v1/queues/{Q}/dead/{task_id}/retry"),
        ):
            assert_problem(await client.request(method, path), 404)
    late = await client.post(f"/api/v1/leases/{held['lease_id']}/complete", json={})
    assert_problem(late, 409)
    assert_problem(await client.get(f"/api/v1/queues/{Q}"), 404)
    assert_problem(await client.get(f"/api/v1/queues/{Q}/tasks"), 404)
    left = db.execute(
        "SELECT (SELECT count(*) FROM tasks.queue_tasks WHERE queue = %(q)s),"
        " (SELECT count(*) FROM tasks.queue_counters WHERE queue = %(q)s)",
        {"q": Q},
    ).fetchone()
    assert left == (0, 0)

    # The feed: a live job's end is its cancellation; a finished job's removal, like
    # retention's, adds no event.
    for state, task_id in ids.items():
        added = [] if state in FINISHED else ["task.cancelled"]
        assert event_types(db, task_id) == events_before[task_id] + added, state
    reasons = db.execute(
        "SELECT DISTINCT data->>'reason' FROM tasks.events"
        " WHERE queue = %s AND type = 'task.cancelled' AND task_id <> %s",
        (Q, ids["cancelled"]),
    ).fetchall()
    assert reasons == [("queue deleted",)]
    audit = (await client.get("/api/v1/audit", params={"target": f"queue:{Q}"})).json()
    deletion = next(entry for entry in audit["items"] if entry["action"] == "queue.delete")
    assert deletion["details"] == {"force": True, "tasks_deleted": len(ids)}

    # The same name again: nothing of the old queue shows.
    assert (await client.put(f"/api/v1/queues/{Q}", json={})).status_code == 201
    listing = (await client.get(f"/api/v1/queues/{Q}/tasks")).json()
    assert listing["items"] == []
    assert (await client.get(f"/api/v1/queues/{Q}/dead")).json() == []
    fresh = await stats(client, Q)
    assert (fresh["available"], fresh["scheduled"], fresh["retrying"]) == (0, 0, 0)
    assert (fresh["in_flight"], fresh["dead"]) == (0, 0)
    assert (fresh["completed_total"], fresh["failed_total"]) == (0, 0)
    again = await client.post(
        f"/api/v1/queues/{Q}/tasks", json={"payload": {}, "dedupe_key": "once"}
    )
    assert again.status_code == 201, "the old job's dedupe key went with it"
    assert [job["id"] for job in await lease(client, Q, max_tasks=10)] == [again.json()["id"]]

    other = await client.get(f"/api/v1/tasks/{kept['id']}")
    assert (other.status_code, other.json()["status"]) == (200, "pending")


async def test_an_enqueue_in_flight_goes_with_the_queue(
    client: httpx.AsyncClient, db: psycopg.Connection[Any], task_db_url: str
) -> None:
    """The deletion waits for an enqueue that has not committed yet, then deletes its job
    too."""
    await configure(client, Q)
    connect = psycopg.AsyncConnection.connect
    async with await connect(task_db_url) as connection, connection.transaction():
        (job,) = await queue.enqueue(connection, DEV_PRINCIPAL, Q, [TaskEnqueue(payload={})], None)
        deletion = asyncio.create_task(client.delete(f"/api/v1/queues/{Q}"))
        await eventually(lambda: _count(db, WAITING_ON_QUEUE_LOCK))
        assert not deletion.done()
    assert (await deletion).status_code == 204
    assert_problem(await client.get(f"/api/v1/tasks/{job.id}"), 404)
    assert event_types(db, str(job.id)) == ["task.created", "task.cancelled"]


Arrival = Callable[[], Coroutine[Any, Any, httpx.Response]]
DuringDeletion = Callable[[str, Arrival], Coroutine[Any, Any, httpx.Response]]


@pytest.fixture
def during_deletion(
    client: httpx.AsyncClient, db: psycopg.Connection[Any], task_db_url: str
) -> DuringDeletion:
    """``during_deletion(held, arrive)``: delete ``Q`` while someone holds the live job
    ``held`` (the deletion waits for its row, holding the queue's lock) and ``arrive``
    comes in, which must wait for the deletion; the deletion's 204, then ``arrive``'s
    answer."""

    async def run(held: str, arrive: Arrival) -> httpx.Response:
        connect = psycopg.AsyncConnection.connect
        async with await connect(task_db_url) as holder, holder.transaction():
            await holder.execute("SELECT FROM tasks.queue_jobs WHERE id = %s FOR UPDATE", (held,))
            deletion = asyncio.create_task(client.delete(f"/api/v1/queues/{Q}"))
            await eventually(lambda: _count(db, WAITING_ON_ROW))
            arrival = asyncio.create_task(arrive())
            await eventually(lambda: _count(db, WAITING_ON_QUEUE_LOCK))
            assert not deletion.done()
            assert not arrival.done()
        assert (await deletion).status_code == 204
        return await arrival

    return run


async def test_an_enqueue_during_the_deletion_creates_the_queue_anew(
    client: httpx.AsyncClient, during_deletion: DuringDeletion
) -> None:
    """An enqueue that arrives while the deletion runs waits for it, then creates the
    queue again with only its own job."""
    await configure(client, Q)
    old = await enqueue(client, Q)
    arrival = {"payload": {"n": 1}}
    created = await during_deletion(
        old["id"], lambda: client.post(f"/api/v1/queues/{Q}/tasks", json=arrival)
    )
    assert created.status_code == 201, created.text
    assert_problem(await client.get(f"/api/v1/tasks/{old['id']}"), 404)
    listing = (await client.get(f"/api/v1/queues/{Q}/tasks")).json()
    assert [job["id"] for job in listing["items"]] == [created.json()["id"]]
    assert (await stats(client, Q))["available"] == 1


async def test_a_dead_letter_retry_during_the_deletion_finds_nothing(
    client: httpx.AsyncClient, during_deletion: DuringDeletion
) -> None:
    """A dead-letter retry that arrives while the deletion runs waits for it, then finds
    the dead job gone (404): it cannot bring a job back into the deleted queue."""
    await configure(client, Q, max_attempts=1)
    dead = await enqueue(client, Q)
    (held,) = await lease(client, Q)
    assert (await _fail(client, held))["status"] == "dead"
    live = await enqueue(client, Q)
    retry = f"/api/v1/queues/{Q}/dead/{dead['id']}/retry"
    retried = await during_deletion(live["id"], lambda: client.post(retry))
    assert_problem(retried, 404)
    for job in (dead, live):
        assert_problem(await client.get(f"/api/v1/tasks/{job['id']}"), 404)
    assert_problem(await client.get(f"/api/v1/queues/{Q}"), 404)


async def _count(db: psycopg.Connection[Any], query: str) -> int:
    row = db.execute(query).fetchone()
    assert row is not None
    return int(row[0])
