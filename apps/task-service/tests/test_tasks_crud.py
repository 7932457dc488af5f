"""Create, read, update, delete and stats through the HTTP API on real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from taskplane_testing.http import assert_problem


async def test_create_returns_location_etag_and_normalised_fields(
    client: httpx.AsyncClient,
) -> None:
    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    response = await client.post(
        "/api/v1/tasks",
        json={
            "title": "  Ship the release  ",
            "description": "notes",
            "priority": "high",
            "due_at": due,
            "tags": ["Backend", "backend", "BACKEND", "ops"],
        },
    )
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["title"] == "Ship the release"
    assert task["tags"] == ["Backend", "ops"]
    assert task["status"] == "pending"
    assert task["priority"] == "high"
    assert task["version"] == 1
    assert task["queue"] is None, "a plain task has no queue details"
    assert response.headers["location"] == f"/api/v1/tasks/{task['id']}"
    assert response.headers["etag"] == '"1"'

    fetched = await client.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == task
    assert fetched.headers["etag"] == '"1"'


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "description": "d" * 2001}, "description"),
        ({"title": "ok", "priority": "urgent"}, "priority"),
        ({"title": "ok", "status": "dead"}, "status"),
        ({"title": "ok", "tags": "not-a-list"}, "tags"),
        ({"title": "ok", "tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"title": "ok", "tags": ["x" * 51]}, "tags"),
        ({"title": "ok", "due_at": "2030-01-01T00:00:00"}, "due_at"),
        ({"title": "ok", "assignee_id": "not-a-uuid"}, "assignee_id"),
        ({"title": 42}, "title"),
        ({"title": "ok", "owner_id": str(uuid.uuid4())}, "owner_id"),
        ({}, "title"),
    ],
)
async def test_invalid_bodies_are_422_and_write_nothing(
    client: httpx.AsyncClient, row_count: Callable[..., int], body: dict[str, Any], field: str
) -> None:
    problem = assert_problem(await client.post("/api/v1/tasks", json=body), 422)
    assert any(field in error["loc"] for error in problem["errors"]), problem
    assert row_count() == 0
    assert row_count("tasks.events") == 0


async def test_malformed_json_is_a_problem(
    client: httpx.AsyncClient, row_count: Callable[..., int]
) -> None:
    response = await client.post(
        "/api/v1/tasks",
        content=b'{"title": "unterminated',
        headers={"content-type": "application/json"},
    )
    problem = assert_problem(response, 422)
    assert "json" in problem["detail"].lower()
    assert row_count() == 0


async def test_oversized_body_is_413(
    client: httpx.AsyncClient, row_count: Callable[..., int]
) -> None:
    response = await client.post(
        "/api/v1/tasks",
        content=b'{"title": "' + b"x" * 2_000_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 413)
    assert row_count() == 0


async def test_unknown_and_malformed_ids(client: httpx.AsyncClient) -> None:
    missing = uuid.uuid4()
    for method in ("GET", "PATCH", "DELETE"):
        kwargs: dict[str, Any] = {"json": {"title": "x"}} if method == "PATCH" else {}
        problem = assert_problem(
            await client.request(method, f"/api/v1/tasks/{missing}", **kwargs), 404
        )
        assert str(missing) in problem["detail"]
    assert_problem(await client.get("/api/v1/tasks/not-a-uuid"), 404)
    assert_problem(await client.get("/api/v1/nothing-here"), 404)


async def test_patch_honours_if_match(client: httpx.AsyncClient) -> None:
    created = (await client.post("/api/v1/tasks", json={"title": "draft"})).json()
    url = f"/api/v1/tasks/{created['id']}"

    first = await client.patch(url, json={"title": "final"}, headers={"If-Match": '"1"'})
    assert first.status_code == 200, first.text
    assert first.json()["title"] == "final"
    assert first.headers["etag"] == '"2"'

    stale = await client.patch(url, json={"title": "lost update"}, headers={"If-Match": '"1"'})
    problem = assert_problem(stale, 412)
    assert stale.headers["etag"] == '"2"'
    assert "changed" in problem["detail"]
    assert (await client.get(url)).json()["title"] == "final"

    assert_problem(await client.patch(url, json={"title": "x"}, headers={"If-Match": 'W/"2"'}), 412)
    star = await client.patch(url, json={"priority": "critical"}, headers={"If-Match": "*"})
    assert star.status_code == 200
    assert star.json()["version"] == 3


async def test_patch_clears_nullable_fields_and_rejects_null_title(
    client: httpx.AsyncClient,
) -> None:
    assignee = str(uuid.uuid4())
    created = (
        await client.post(
            "/api/v1/tasks",
            json={"title": "t", "description": "d", "assignee_id": assignee, "tags": ["a"]},
        )
    ).json()
    url = f"/api/v1/tasks/{created['id']}"
    cleared = await client.patch(url, json={"description": None, "assignee_id": None, "tags": []})
    assert cleared.status_code == 200
    body = cleared.json()
    assert (body["description"], body["assignee_id"], body["tags"]) == (None, None, [])
    assert_problem(await client.patch(url, json={"title": None}), 422)
    unchanged = await client.patch(url, json={"description": None})
    assert unchanged.json()["version"] == body["version"]


async def test_status_changes_set_completed_at_and_emit_events(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    created = (await client.post("/api/v1/tasks", json={"title": "t"})).json()
    url = f"/api/v1/tasks/{created['id']}"
    done = (await client.patch(url, json={"status": "completed"})).json()
    assert done["completed_at"] is not None
    reopened = (await client.patch(url, json={"status": "in_progress"})).json()
    assert reopened["completed_at"] is None
    assignee = str(uuid.uuid4())
    await client.patch(url, json={"assignee_id": assignee})
    assert (await client.delete(url, headers={"If-Match": '"4"'})).status_code == 204
    assert_problem(await client.get(url), 404)

    types = [row[0] for row in db.execute("SELECT type FROM tasks.events ORDER BY id")]
    assert types == [
        "task.created",
        "task.updated",
        "task.completed",
        "task.updated",
        "task.updated",
        "task.assigned",
        "task.deleted",
    ]


async def test_delete_with_stale_etag_keeps_the_task(client: httpx.AsyncClient) -> None:
    created = (await client.post("/api/v1/tasks", json={"title": "keep"})).json()
    url = f"/api/v1/tasks/{created['id']}"
    assert_problem(await client.delete(url, headers={"If-Match": '"9"'}), 412)
    assert (await client.get(url)).status_code == 200


async def test_stats_count_by_status_priority_and_overdue(client: httpx.AsyncClient) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    bodies = [
        {"title": "a", "priority": "low", "due_at": past},
        {"title": "b", "priority": "low", "due_at": past, "status": "completed"},
        {"title": "c", "priority": "critical", "due_at": future},
        {"title": "d", "priority": "critical", "status": "in_progress", "due_at": past},
    ]
    for body in bodies:
        assert (await client.post("/api/v1/tasks", json=body)).status_code == 201
    stats = (await client.get("/api/v1/tasks/stats")).json()
    assert stats["total"] == 4
    assert stats["by_status"]["pending"] == 2
    assert stats["by_status"]["completed"] == 1
    assert stats["by_status"]["in_progress"] == 1
    assert stats["by_status"]["dead"] == 0
    assert stats["by_priority"] == {"low": 2, "medium": 0, "high": 0, "critical": 2}
    assert stats["overdue"] == 2


async def test_sql_looking_text_is_stored_verbatim(client: httpx.AsyncClient) -> None:
    title = "'; DROP TABLE tasks.tasks; --"
    created = await client.post("/api/v1/tasks", json={"title": title, "tags": ["%_\\"]})
    assert created.status_code == 201
    listing = await client.get("/api/v1/tasks", params={"q": "DROP TABLE"})
    assert [t["title"] for t in listing.json()["items"]] == [title]
    assert (await client.get("/api/v1/tasks", params={"q": "%"})).json()["items"] == []


async def test_values_postgresql_cannot_store_are_422_not_500(
    client: httpx.AsyncClient, row_count: Callable[..., int]
) -> None:
    problem = assert_problem(await client.post("/api/v1/tasks", json={"title": "nul \x00"}), 422)
    assert "title" in problem["detail"], "the document's pattern refuses U+0000"
    enqueue = await client.post("/api/v1/queues/q/tasks", json={"payload": {"text": "\x00"}})
    assert_problem(enqueue, 422)
    assert row_count() == 0


@pytest.mark.parametrize("field", ["title", "status", "priority"])
async def test_patch_refuses_null_for_fields_that_cannot_be_empty(
    client: httpx.AsyncClient, field: str
) -> None:
    created = (await client.post("/api/v1/tasks", json={"title": "t"})).json()
    url = f"/api/v1/tasks/{created['id']}"
    problem = assert_problem(await client.patch(url, json={field: None}), 422)
    assert field in problem["detail"]
    after = (await client.get(url)).json()
    assert after == created, "a refused change changes nothing"


async def test_a_method_a_path_lacks_is_405_naming_every_method_of_the_path(
    client: httpx.AsyncClient,
) -> None:
    task = f"/api/v1/tasks/{uuid.uuid4()}"
    refused = await client.put(task, json={"title": "x"})
    assert_problem(refused, 405)
    assert refused.headers["allow"] == "DELETE, GET, HEAD, PATCH"
    stats = await client.patch("/api/v1/tasks/stats", json={"title": "x"})
    assert_problem(stats, 405)
    assert stats.headers["allow"] == "GET, HEAD"
