"""The event feed: every change once, in order, and nothing skipped when transactions
commit out of id order or a consumer restarts from its cursor."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from typing import Any

import httpx
import psycopg
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from taskplane_testing.http import assert_problem
from taskplane_testing.spans import captured_spans

Json = dict[str, Any]


async def read(client: httpx.AsyncClient, after: str = "0-0", **params: Any) -> Json:
    response = await client.get("/api/v1/events", params={"after": after, **params})
    assert response.status_code == 200, response.text
    page: Json = response.json()
    return page


def insert_event(connection: psycopg.Connection[Any], type_: str) -> None:
    connection.execute(
        "INSERT INTO tasks.events (type, task_id) VALUES (%s, %s)", (type_, uuid.uuid4())
    )


async def test_an_older_uncommitted_transaction_holds_back_later_events(
    client: httpx.AsyncClient, task_db_url: str
) -> None:
    with (
        psycopg.connect(task_db_url) as slow,
        psycopg.connect(task_db_url, autocommit=True) as fast,
    ):
        insert_event(slow, "slow")  # takes the smaller id, commits last
        insert_event(fast, "fast")
        page = await read(client)
        assert page["items"] == [], "handing out 'fast' now would skip 'slow' forever"
        assert page["next_cursor"] == "0-0"
        slow.commit()
    page = await read(client)
    assert [e["type"] for e in page["items"]] == ["slow", "fast"]
    assert (await read(client, page["next_cursor"]))["items"] == []


async def test_bad_cursor_is_422(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/events", params={"after": "nonsense"}), 422)


async def test_long_poll_wakes_on_a_new_event(client: httpx.AsyncClient) -> None:
    start = (await read(client))["next_cursor"]
    waiting = asyncio.create_task(read(client, start, wait_s=10))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await client.post("/api/v1/queues/feed/tasks", json={"payload": {}})
    page = await asyncio.wait_for(waiting, timeout=10)
    assert [e["type"] for e in page["items"]] == ["task.created"]


async def test_concurrent_writers_every_change_once_in_order_across_restarts(
    client: httpx.AsyncClient,
) -> None:
    writers, per_writer = 4, 15
    done = asyncio.Event()

    async def writer(index: int) -> None:
        for n in range(per_writer):
            await client.post("/api/v1/queues/feed/tasks", json={"payload": {"w": index, "n": n}})
            leased = await client.post(
                "/api/v1/queues/feed/leases", json={"worker_id": f"w{index}", "max_tasks": 1}
            )
            for task in leased.json()["tasks"]:
                await client.post(f"/api/v1/leases/{task['lease_id']}/complete", json={})

    seen: list[Json] = []
    saved_cursor = "0-0"

    async def consumer() -> None:
        """Reads small pages and 'crashes' every few pages, resuming from its cursor."""
        nonlocal saved_cursor
        pages = 0
        while True:
            finished = done.is_set()
            page = await read(client, saved_cursor, limit=7, wait_s=0.2)
            seen.extend(page["items"])
            pages += 1
            if pages % 3 == 0:
                continue  # a restart: nothing kept but the cursor below
            saved_cursor = page["next_cursor"]
            if finished and not page["items"]:
                return

    reader = asyncio.create_task(consumer())
    await asyncio.gather(*(writer(i) for i in range(writers)))
    done.set()
    await asyncio.wait_for(reader, timeout=60)

    # A "crashed" page is re-read after the restart: deduplicate by id like a consumer.
    unique = {event["id"]: event for event in seen}
    positions = [event["cursor"] for event in unique.values()]
    order = [tuple(int(part) for part in cursor.split("-")) for cursor in positions]
    assert order == sorted(order), "the feed went backwards"
    by_task: dict[str, list[str]] = defaultdict(list)
    for event in unique.values():
        by_task[event["task_id"]].append(event["type"])
    assert len(by_task) == writers * per_writer
    for types in by_task.values():
        assert types == ["task.created", "task.updated", "task.completed"], types


def request_trace_id(spans: list[ReadableSpan]) -> str:
    """The trace id of the one request the captured spans belong to."""
    traces = {span.context.trace_id for span in spans if span.kind == SpanKind.SERVER}
    assert len(traces) == 1, traces
    return format(traces.pop(), "032x")


def trace_ids(page: Json, task_id: str) -> dict[str, str | None]:
    """Event type -> the trace id of its ``traceparent`` (None when it has none)."""
    return {
        event["type"]: event["traceparent"] and event["traceparent"].split("-")[1]
        for event in page["items"]
        if event["task_id"] == task_id
    }


async def test_a_queue_tasks_events_carry_its_enqueue_trace(client: httpx.AsyncClient) -> None:
    """The worker continues the enqueue's trace; so does the notification of each event."""
    start = (await read(client))["next_cursor"]
    with captured_spans() as spans:
        created = await client.post("/api/v1/queues/traced/tasks", json={"payload": {}})
        assert created.status_code == 201, created.text
    enqueue_trace = request_trace_id(spans)
    with captured_spans() as spans:
        leased = await client.post("/api/v1/queues/traced/leases", json={"worker_id": "w"})
        (task,) = leased.json()["tasks"]
        assert task["traceparent"].split("-")[1] == enqueue_trace
        done = await client.post(f"/api/v1/leases/{task['lease_id']}/complete", json={})
        assert done.status_code == 200, done.text
    assert enqueue_trace not in {format(s.context.trace_id, "032x") for s in spans}
    assert trace_ids(await read(client, start), task["id"]) == {
        "task.created": enqueue_trace,
        "task.updated": enqueue_trace,
        "task.completed": enqueue_trace,
    }


async def test_a_task_api_event_carries_the_trace_of_its_request(
    client: httpx.AsyncClient, task_db_url: str
) -> None:
    start = (await read(client))["next_cursor"]
    with captured_spans() as spans:
        created = (await client.post("/api/v1/tasks", json={"title": "traced"})).json()
    create_trace = request_trace_id(spans)
    with captured_spans() as spans:
        done = await client.patch(f"/api/v1/tasks/{created['id']}", json={"status": "completed"})
        assert done.status_code == 200, done.text
    complete_trace = request_trace_id(spans)
    assert create_trace != complete_trace
    assert trace_ids(await read(client, start), created["id"]) == {
        "task.created": create_trace,
        "task.updated": complete_trace,
        "task.completed": complete_trace,
    }
    with psycopg.connect(task_db_url, autocommit=True) as connection:
        insert_event(connection, "untraced")
    page = await read(client, start)
    assert page["items"][-1]["type"] == "untraced"
    assert page["items"][-1]["traceparent"] is None
