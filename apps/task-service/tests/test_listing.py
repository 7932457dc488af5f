"""Filters, sorting and keyset pagination of ``GET /api/v1/tasks``."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from task_service.pagination import SORT_OPTIONS
from taskplane_testing.http import assert_problem

ALICE = str(uuid.uuid4())
BOB = str(uuid.uuid4())


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/tasks", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def titles(client: httpx.AsyncClient, **params: Any) -> set[str]:
    response = await client.get("/api/v1/tasks", params=params)
    assert response.status_code == 200, response.text
    return {item["title"] for item in response.json()["items"]}


async def test_filters_combine(client: httpx.AsyncClient) -> None:
    catalogue = [
        ("deploy api", "high", "pending", ["Ops", "api"], ALICE),
        ("deploy web", "high", "in_progress", ["ops"], BOB),
        ("write docs", "low", "pending", ["docs"], ALICE),
        ("fix login bug", "critical", "pending", ["api", "bug"], None),
        ("review deploy plan", "medium", "completed", ["ops"], BOB),
    ]
    for title, priority, status, tags, assignee in catalogue:
        await create(
            client, title=title, priority=priority, status=status, tags=tags, assignee_id=assignee
        )

    def expected(predicate: Any) -> set[str]:
        return {row[0] for row in catalogue if predicate(row)}

    assert await titles(client, status="pending") == expected(lambda r: r[2] == "pending")
    assert await titles(client, status=["pending", "completed"]) == expected(
        lambda r: r[2] in {"pending", "completed"}
    )
    assert await titles(client, priority="high", status="pending") == {"deploy api"}
    assert await titles(client, tag="OPS") == expected(lambda r: "ops" in map(str.lower, r[3]))
    assert await titles(client, tag=["ops", "api"]) == {"deploy api"}
    assert await titles(client, q="deploy") == expected(lambda r: "deploy" in r[0])
    assert await titles(client, q="DEPLOY", tag="ops", assignee=BOB) == {
        "deploy web",
        "review deploy plan",
    }
    assert await titles(client, assignee="none") == {"fix login bug"}
    assert await titles(client, assignee=ALICE, priority=["low", "high"]) == {
        "deploy api",
        "write docs",
    }
    assert await titles(client, q="nothing like this") == set()


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"sort": "title"}, "sort"),
        ({"sort": "-password"}, "sort"),
        ({"colour": "red"}, "unknown query parameter"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"status": "sleeping"}, "status"),
        ({"priority": "urgent"}, "priority"),
        ({"assignee": "someone"}, "assignee"),
    ],
)
async def test_bad_query_parameters(
    client: httpx.AsyncClient, params: dict[str, str], fragment: str
) -> None:
    problem = assert_problem(await client.get("/api/v1/tasks", params=params), 422)
    assert fragment in (problem["detail"] + str(problem.get("errors", ""))).lower()


async def test_tampered_or_foreign_cursor_is_refused(client: httpx.AsyncClient) -> None:
    for i in range(3):
        await create(client, title=f"t{i}")
    page = (await client.get("/api/v1/tasks", params={"limit": 1})).json()
    cursor = page["next_cursor"]
    assert cursor
    body, signature = cursor.split(".")
    tampered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + signature
    for bad in (tampered, body + "." + signature[::-1]):
        problem = assert_problem(
            await client.get("/api/v1/tasks", params={"limit": 1, "cursor": bad}), 400
        )
        assert "cursor" in problem["detail"]
    for malformed in (cursor + "x", "garbage", "a.b.c"):
        problem = assert_problem(
            await client.get("/api/v1/tasks", params={"limit": 1, "cursor": malformed}), 422
        )
        assert "cursor" in problem["detail"], "the document's pattern refuses it"
    other_sort = await client.get(
        "/api/v1/tasks", params={"limit": 1, "cursor": cursor, "sort": "priority"}
    )
    assert_problem(other_sort, 400)


async def walk(client: httpx.AsyncClient, sort: str, limit: int) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"sort": sort, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/api/v1/tasks", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def test_keyset_pagination_is_exact_under_concurrent_inserts(
    client: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC)
    priorities = itertools.cycle(["low", "medium", "high", "critical"])
    original: set[str] = set()
    for i in range(60):
        due = None if i % 3 == 0 else (now + timedelta(minutes=i % 7)).isoformat()
        task = await create(client, title=f"seed {i}", priority=next(priorities), due_at=due)
        original.add(task["id"])

    for sort in SORT_OPTIONS:
        stop = asyncio.Event()

        async def insert_while_paging(sort: str = sort, stop: asyncio.Event = stop) -> int:
            inserted = 0
            while not stop.is_set():
                await create(client, title=f"concurrent {sort} {inserted}", priority="high")
                inserted += 1
                await asyncio.sleep(0)
            return inserted

        writer = asyncio.create_task(insert_while_paging())
        seen = await walk(client, sort, limit=7)
        stop.set()
        inserted = await writer

        assert len(seen) == len(set(seen)), f"{sort}: a row was returned twice"
        missing = original - set(seen)
        assert not missing, f"{sort}: {len(missing)} existing rows were skipped"
        assert inserted > 0, "the writer never ran concurrently with the pagination"


async def test_sort_orders(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    await create(client, title="late", priority="low", due_at=(now + timedelta(days=2)).isoformat())
    await create(client, title="none", priority="critical")
    await create(
        client, title="soon", priority="high", due_at=(now + timedelta(days=1)).isoformat()
    )

    async def order(sort: str) -> list[str]:
        response = await client.get("/api/v1/tasks", params={"sort": sort})
        return [item["title"] for item in response.json()["items"]]

    assert await order("due_at") == ["soon", "late", "none"]
    assert await order("-due_at") == ["late", "soon", "none"]
    assert await order("-priority") == ["none", "soon", "late"]
    assert await order("created_at") == ["late", "none", "soon"]
    assert await order("-created_at") == ["soon", "none", "late"]
