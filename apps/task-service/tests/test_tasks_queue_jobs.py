"""Queue jobs through the task API: read by id wherever they are (live or finished),
never listed or counted with plain tasks, never patched; a finished one may be deleted,
a live one not. And a queue's own list of its jobs, ``GET /api/v1/queues/{queue}/tasks``."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest

from taskplane_testing.http import assert_problem

from .conftest import Json, Q, configure, enqueue, event_types, lease

JOBS = f"/api/v1/queues/{Q}/tasks"


async def _complete(client: httpx.AsyncClient, result: Any) -> Json:
    """Enqueue a job, lease it and complete it with ``result``."""
    job = await enqueue(client, title="done")
    (leased,) = await lease(client)
    assert leased["id"] == job["id"]
    done = await client.post(
        f"/api/v1/leases/{leased['lease_id']}/complete", json={"result": result}
    )
    assert done.status_code == 200, done.text
    return job


def _snapshot(db: psycopg.Connection[Any], task_id: str) -> tuple[Any, ...]:
    """The job's row wherever it is, and every event written so far."""
    row = db.execute("SELECT * FROM tasks.queue_tasks WHERE id = %s", (task_id,)).fetchall()
    events = db.execute("SELECT id, type, task_id FROM tasks.events ORDER BY id").fetchall()
    return row, events


async def _read(client: httpx.AsyncClient, task_id: str) -> httpx.Response:
    response = await client.get(f"/api/v1/tasks/{task_id}")
    assert response.status_code == 200, response.text
    return response


async def test_a_queue_job_is_read_by_id_live_or_finished(client: httpx.AsyncClient) -> None:
    await configure(client, max_attempts=1)
    completed = await _complete(client, {"ok": 1})
    failed = await enqueue(client, title="fails")
    (leased,) = await lease(client)
    refused = await client.post(
        f"/api/v1/leases/{leased['lease_id']}/fail", json={"error": "boom", "retryable": False}
    )
    assert refused.status_code == 200, refused.text
    running = await enqueue(client, title="runs")
    await lease(client)
    waiting = await enqueue(client, title="waits", payload={"n": 1}, dedupe_key="k")

    expected = {
        completed["id"]: "completed",
        failed["id"]: "dead",
        running["id"]: "in_progress",
        waiting["id"]: "pending",
    }
    for task_id, status in expected.items():
        response = await _read(client, task_id)
        task = response.json()
        assert (task["id"], task["status"], task["queue"]["name"]) == (task_id, status, Q)
        assert response.headers["etag"] == f'"{task["version"]}"'
        # What a queue job does not have, as a plain task's document says it.
        assert (task["description"], task["due_at"], task["assignee_id"]) == (None, None, None)
        assert task["tags"] == []
    done = (await _read(client, completed["id"])).json()
    assert done["queue"]["result"] == {"ok": 1}
    assert done["completed_at"] is not None
    dead = (await _read(client, failed["id"])).json()
    assert dead["queue"]["last_error"] == "boom"
    assert dead["queue"]["attempts"] == 1
    pending = (await _read(client, waiting["id"])).json()
    assert pending["title"] == "waits"
    assert pending["queue"]["payload"] == {"n": 1}
    assert pending["queue"]["dedupe_key"] == "k"
    assert pending["queue"]["result"] is None
    assert_problem(await client.get(f"/api/v1/tasks/{uuid.uuid4()}"), 404)


async def test_the_task_list_and_stats_hold_plain_tasks_only(client: httpx.AsyncClient) -> None:
    plain = await client.post("/api/v1/tasks", json={"title": "human"})
    assert plain.status_code == 201, plain.text
    await _complete(client, None)
    await enqueue(client)

    listed = await client.get("/api/v1/tasks")
    assert [task["id"] for task in listed.json()["items"]] == [plain.json()["id"]]
    stats = (await client.get("/api/v1/tasks/stats")).json()
    assert stats["total"] == 1
    assert stats["by_status"]["pending"] == 1
    assert stats["by_status"]["completed"] == 0


@pytest.mark.parametrize("finished", [False, True], ids=["live", "finished"])
async def test_patching_a_queue_job_is_a_409_that_changes_nothing(
    client: httpx.AsyncClient, db: psycopg.Connection[Any], finished: bool
) -> None:
    job = await _complete(client, 1) if finished else await enqueue(client)
    before = _snapshot(db, job["id"])
    refused = await client.patch(f"/api/v1/tasks/{job['id']}", json={"title": "renamed"})
    problem = assert_problem(refused, 409)
    assert problem["type"].endswith("/queued-task")
    assert "through its queue" in problem["detail"]
    assert _snapshot(db, job["id"]) == before


@pytest.mark.parametrize("leased", [False, True], ids=["pending", "in_progress"])
async def test_deleting_a_live_queue_job_is_a_409_that_changes_nothing(
    client: httpx.AsyncClient, db: psycopg.Connection[Any], leased: bool
) -> None:
    job = await enqueue(client)
    if leased:
        await lease(client)
    before = _snapshot(db, job["id"])
    problem = assert_problem(await client.delete(f"/api/v1/tasks/{job['id']}"), 409)
    assert problem["type"].endswith("/queued-task")
    assert "cancel it first" in problem["detail"]
    assert _snapshot(db, job["id"]) == before


async def test_deleting_a_finished_queue_job_removes_it_with_its_event(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    job = await _complete(client, {"ok": 1})
    path = f"/api/v1/tasks/{job['id']}"
    etag = (await _read(client, job["id"])).headers["etag"]
    before = _snapshot(db, job["id"])
    assert_problem(await client.delete(path, headers={"If-Match": '"999"'}), 412)
    assert _snapshot(db, job["id"]) == before

    assert (await client.delete(path, headers={"If-Match": etag})).status_code == 204
    assert_problem(await client.get(path), 404)
    assert db.execute("SELECT count(*) FROM tasks.queue_tasks").fetchone() == (0,)
    assert event_types(db, job["id"])[-1] == "task.deleted"
    deleted = db.execute(
        "SELECT queue FROM tasks.events WHERE task_id = %s AND type = 'task.deleted'",
        (job["id"],),
    ).fetchone()
    assert deleted == (Q,), "the event names the job's queue, like its other events"
    assert_problem(await client.delete(path), 404)


async def test_a_queues_jobs_are_listed_newest_first_page_by_page(
    client: httpx.AsyncClient,
) -> None:
    done = await _complete(client, {"n": 2**70})
    batch = await client.post(JOBS, json={"tasks": [{"payload": {"n": n}} for n in range(4)]})
    assert batch.status_code == 201, batch.text
    await enqueue(client, queue="elsewhere")
    ids = sorted([done["id"], *(task["id"] for task in batch.json()["tasks"])], key=uuid.UUID)

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get(JOBS, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 2
        seen += [task["id"] for task in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1], "every job of the queue once, newest (highest id) first"

    finished = (await client.get(JOBS, params={"status": "completed"})).json()
    assert [task["id"] for task in finished["items"]] == [done["id"]]
    assert finished["items"][0]["queue"]["result"] == {"n": 2**70}
    both = await client.get(JOBS, params=[("status", "completed"), ("status", "pending")])
    assert len(both.json()["items"]) == 5
    none = (await client.get(JOBS, params={"status": "dead"})).json()
    assert none == {"items": [], "next_cursor": None}


async def test_a_queue_list_page_is_capped_by_the_service(client: httpx.AsyncClient) -> None:
    """``limit`` up to the documented 1000 is accepted; the service's maximum (200 by
    default) makes the page shorter, with a cursor to the rest."""
    created = await client.post(JOBS, json={"tasks": [{"payload": {}}] * 201})
    assert created.status_code == 201, created.text
    first = (await client.get(JOBS, params={"limit": 1000})).json()
    assert len(first["items"]) == 200
    rest = (await client.get(JOBS, params={"limit": 1000, "cursor": first["next_cursor"]})).json()
    assert (len(rest["items"]), rest["next_cursor"]) == (1, None)


async def test_a_queue_list_refuses_bad_input_with_a_problem(client: httpx.AsyncClient) -> None:
    await enqueue(client)
    await enqueue(client)
    page = (await client.get(JOBS, params={"limit": 1})).json()
    cursor = page["next_cursor"]
    body, signature = cursor.split(".")
    altered = f"{body[:-1]}{'A' if body[-1] != 'A' else 'B'}.{signature}"
    await client.post("/api/v1/tasks", json={"title": "a"})
    await client.post("/api/v1/tasks", json={"title": "b"})
    task_cursor = (await client.get("/api/v1/tasks", params={"limit": 1})).json()["next_cursor"]

    assert_problem(await client.get("/api/v1/queues/never-made/tasks"), 404)
    for params, status in [
        ({"cursor": altered}, 400),
        ({"cursor": task_cursor}, 400),
        ({"cursor": "not a cursor"}, 422),
        ({"status": "nonsense"}, 422),
        ({"limit": 0}, 422),
        ({"limit": 1001}, 422),
        ({"sort": "-created_at"}, 422),
    ]:
        assert_problem(await client.get(JOBS, params=params), status)
    assert_problem(await client.get("/api/v1/queues/Not A Queue/tasks"), 422)


async def test_cancelling_a_plain_task_is_a_409_that_changes_nothing(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    """The task exists (a 404 would say it does not): it is just not a queue job."""
    created = await client.post("/api/v1/tasks", json={"title": "human"})
    task = created.json()
    before = db.execute("SELECT * FROM tasks.tasks").fetchall(), _snapshot(db, task["id"])
    problem = assert_problem(await client.post(f"/api/v1/tasks/{task['id']}/cancel"), 409)
    assert problem["type"].endswith("/not-queued")
    after = db.execute("SELECT * FROM tasks.tasks").fetchall(), _snapshot(db, task["id"])
    assert after == before
