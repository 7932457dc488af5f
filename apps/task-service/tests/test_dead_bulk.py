"""Bulk dead-letter actions "all matching a filter", done server-side: the dry run's
count, retry and delete in one transaction, who may call them, and bad input."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from task_service.config import Settings
from task_service.main import build_app
from taskplane_testing.http import asgi_client, assert_problem
from taskplane_testing.tokens import JWKS_URL, TokenFactory, bearer

from .test_queues import configure, enqueue, event_types, lease

Q = "bulk"


async def kill(client: httpx.AsyncClient, error: str, count: int = 1) -> list[str]:
    """``count`` tasks of queue ``Q`` dead with ``error`` (one attempt each)."""
    ids = []
    for _ in range(count):
        task = await enqueue(client, Q, max_attempts=1)
        (held,) = await lease(client, Q)
        failed = await client.post(f"/api/v1/leases/{held['lease_id']}/fail", json={"error": error})
        assert failed.json()["status"] == "dead", failed.text
        ids.append(task["id"])
    return ids


async def dead_ids(client: httpx.AsyncClient) -> set[str]:
    listed = await client.get(f"/api/v1/queues/{Q}/dead", params={"limit": 500})
    assert listed.status_code == 200, listed.text
    return {task["id"] for task in listed.json()}


async def bulk(client: httpx.AsyncClient, action: str, **body: Any) -> int:
    response = await client.post(f"/api/v1/queues/{Q}/dead/{action}", json=body)
    assert response.status_code == 200, response.text
    matched: int = response.json()["matched"]
    return matched


async def test_dry_run_counts_and_retry_applies_the_filter(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    await configure(client, Q)
    boom = await kill(client, "Boom: disk full", 3)
    other = await kill(client, "timeout")

    assert await bulk(client, "retry", error_contains="boom", dry_run=True) == 3
    assert await bulk(client, "delete", dry_run=True) == 4
    assert await dead_ids(client) == {*boom, *other}  # a dry run changes nothing

    assert await bulk(client, "retry", error_contains="BOOM") == 3
    assert await dead_ids(client) == set(other)
    for task_id in boom:
        row = db.execute("SELECT status, attempts FROM tasks.queue_tasks WHERE id = %s", (task_id,))
        assert row.fetchone() == ("pending", 0)
    assert await bulk(client, "retry", error_contains="boom", dry_run=True) == 0
    audit = db.execute(
        "SELECT details FROM tasks.audit_log WHERE action = 'dead_letter.retry'"
        " AND target = %s ORDER BY id DESC LIMIT 1",
        (f"queue:{Q}",),
    ).fetchone()
    assert audit is not None
    assert sorted(audit[0]["task_ids"]) == sorted(boom)


async def test_delete_by_ids_and_filter_together(
    client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    await configure(client, Q)
    first, second = await kill(client, "bad input", 2)
    kept = await kill(client, "network down")

    chosen = [first, kept[0], str(uuid.uuid4())]
    # Both filters apply: of the chosen ids, only the one whose error matches.
    assert await bulk(client, "delete", ids=chosen, error_contains="bad", dry_run=True) == 1
    assert await bulk(client, "delete", ids=chosen, error_contains="bad") == 1
    assert await dead_ids(client) == {second, *kept}
    assert db.execute("SELECT 1 FROM tasks.queue_tasks WHERE id = %s", (first,)).fetchone() is None
    assert event_types(db, first)[-1] == "task.deleted"

    assert await bulk(client, "delete", ids=[]) == 0
    assert await bulk(client, "delete") == 2
    assert await dead_ids(client) == set()


async def test_more_than_one_page_of_dead_tasks(client: httpx.AsyncClient) -> None:
    """The walk pages through the engine's listing (500 a page) without skipping any."""
    await configure(client, Q, max_attempts=1)
    batch = {"tasks": [{"payload": {}} for _ in range(520)]}
    assert (await client.post(f"/api/v1/queues/{Q}/tasks", json=batch)).status_code == 201
    while held := await lease(client, Q, max_tasks=100):
        for task in held:
            answer = await client.post(f"/api/v1/leases/{task['lease_id']}/fail", json={})
            assert answer.status_code == 200, answer.text
    assert await bulk(client, "retry", dry_run=True) == 520
    assert await bulk(client, "retry") == 520
    assert await dead_ids(client) == set()


async def test_an_unknown_queue_has_no_dead_letters_to_list_or_act_on(
    client: httpx.AsyncClient,
) -> None:
    """A queue that does not exist is a 404, as its stats and task list are; one that
    exists with no dead task is an empty list and matches nothing."""
    unknown = f"nowhere-{uuid.uuid4().hex[:8]}"
    for call in (
        client.get(f"/api/v1/queues/{unknown}/dead"),
        client.post(f"/api/v1/queues/{unknown}/dead/retry", json={"dry_run": True}),
        client.post(f"/api/v1/queues/{unknown}/dead/delete", json={}),
    ):
        problem = assert_problem(await call, 404)
        assert problem["type"].endswith("/queue-not-found"), problem
        assert unknown in problem["detail"]
    assert_problem(await client.get(f"/api/v1/queues/{unknown}"), 404)  # nothing was created

    await configure(client, Q)
    assert await dead_ids(client) == set()
    assert await bulk(client, "retry") == 0
    assert await bulk(client, "delete") == 0


async def test_one_refusal_changes_nothing(client: httpx.AsyncClient) -> None:
    """A dead task whose dedupe_key a live task now holds cannot be retried: the whole
    bulk retry is a 409 and the other matching task stays dead too."""
    await configure(client, Q)
    keyed = await enqueue(client, Q, max_attempts=1, dedupe_key="order-7")
    (held,) = await lease(client, Q)
    assert (await client.post(f"/api/v1/leases/{held['lease_id']}/fail", json={})).is_success
    plain = await kill(client, "e")  # newer: the walk retries it before the refused one
    await enqueue(client, Q, dedupe_key="order-7", delay_s=3600)  # the live holder now

    refused = await client.post(f"/api/v1/queues/{Q}/dead/retry", json={})
    assert_problem(refused, 409)
    assert await dead_ids(client) == {*plain, keyed["id"]}


@pytest.mark.parametrize(
    "body",
    [
        {"error_contains": ""},
        {"ids": ["not-a-uuid"]},
        {"dry_run": "maybe"},
        {"unknown": 1},
        {"error_contains": "x" * 1001},
    ],
)
async def test_bad_input_is_a_problem_and_changes_nothing(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    await configure(client, Q)
    dead = await kill(client, "e")
    for action in ("retry", "delete"):
        assert_problem(await client.post(f"/api/v1/queues/{Q}/dead/{action}", json=body), 422)
    assert await dead_ids(client) == set(dead)


@pytest.fixture(scope="module")
async def secured(task_db_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, TokenFactory]]:
    tokens = TokenFactory()
    app: FastAPI = build_app(Settings(DATABASE_URL=task_db_url, jwks_url=JWKS_URL))
    app.state.token_verifier = tokens.verifier()
    async with asgi_client(app, "http://task-service") as api:
        yield api, tokens
    await app.state.database.dispose()


async def test_only_queue_admins_act_on_dead_letters(
    client: httpx.AsyncClient, secured: tuple[httpx.AsyncClient, TokenFactory]
) -> None:
    api, tokens = secured
    await configure(client, Q)
    dead = await kill(client, "e", 2)
    path = f"/api/v1/queues/{Q}/dead/delete"
    for refused in (
        bearer(tokens.token(roles=["member"])),
        bearer(tokens.token(roles=["viewer"])),
        bearer(tokens.service_token("queues:work")),
    ):
        assert_problem(await api.post(path, json={}, headers=refused), 403)
    assert await dead_ids(client) == set(dead)
    # A queues:admin service token (no admin role) sees and deletes every dead task.
    operator = bearer(tokens.service_token("queues:admin"))
    answer = await api.post(path, json={"ids": [dead[0]]}, headers=operator)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"matched": 1}
    assert await dead_ids(client) == {dead[1]}
