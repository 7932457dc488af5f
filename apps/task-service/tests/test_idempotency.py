"""``Idempotency-Key`` on ``POST /api/v1/tasks``: a replay returns the first response."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from taskplane_testing.http import assert_problem


async def test_replay_returns_the_same_body_and_creates_one_row(
    client: httpx.AsyncClient, row_count: Callable[..., int]
) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = await client.post("/api/v1/tasks", json={"title": "pay"}, headers=headers)
    second = await client.post("/api/v1/tasks", json={"title": "pay"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["idempotent-replayed"] == "true"
    assert row_count() == 1
    assert row_count("tasks.events") == 1


async def test_concurrent_requests_with_one_key_create_one_row(
    client: httpx.AsyncClient, row_count: Callable[..., int]
) -> None:
    headers = {"Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/tasks", json={"title": "once"}, headers=headers) for _ in range(8))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert row_count() == 1


async def test_key_reused_with_another_body_is_refused(
    client: httpx.AsyncClient, row_count: Callable[..., int]
) -> None:
    headers = {"Idempotency-Key": "k1"}
    assert (await client.post("/api/v1/tasks", json={"title": "a"}, headers=headers)).is_success
    problem = assert_problem(
        await client.post("/api/v1/tasks", json={"title": "b"}, headers=headers), 422
    )
    assert "Idempotency-Key" in problem["detail"]
    assert row_count() == 1


async def test_distinct_keys_create_distinct_rows(
    client: httpx.AsyncClient, row_count: Callable[..., int]
) -> None:
    for key in ("a", "b"):
        response = await client.post(
            "/api/v1/tasks", json={"title": "same"}, headers={"Idempotency-Key": key}
        )
        assert response.status_code == 201
    assert (await client.post("/api/v1/tasks", json={"title": "same"})).status_code == 201
    assert row_count() == 3


async def test_failed_validation_does_not_burn_the_key(
    client: httpx.AsyncClient, row_count: Callable[..., int]
) -> None:
    headers = {"Idempotency-Key": "retry-after-fix"}
    assert_problem(await client.post("/api/v1/tasks", json={"title": ""}, headers=headers), 422)
    fixed = await client.post("/api/v1/tasks", json={"title": "fixed"}, headers=headers)
    assert fixed.status_code == 201
    assert row_count() == 1
