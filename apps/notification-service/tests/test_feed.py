"""The feed consumer against a feed server: 410 Gone is reported loudly and nothing is
skipped; the trace context an event carries is continued."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from prometheus_client import REGISTRY

from taskplane_testing.http import asgi_client
from taskplane_testing.notifications import json_server
from taskplane_testing.spans import captured_spans
from taskplane_testing.tokens import TokenFactory

from .conftest import build_test_app


@pytest.fixture
def gone_feed() -> Iterator[str]:
    problem = {"type": "about:blank", "title": "Gone", "status": 410, "detail": "too old"}
    server = json_server(lambda _: (410, "application/problem+json", problem))
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def test_an_expired_cursor_fails_readiness_and_is_never_skipped(
    notify_db_url: str,
    tokens: TokenFactory,
    gone_feed: str,
    db: psycopg.Connection[Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = build_test_app(
        notify_db_url,
        tokens,
        background_enabled=True,
        task_service_url=gone_feed,
        service_token="test-token",
        feed_retry_s=0.05,
    )
    consumer = app.state.background.consumer
    running = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(30):
            while not consumer.status.gone:  # noqa: ASYNC110 - state of another task
                await asyncio.sleep(0.05)
        async with asgi_client(app) as client:
            ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"feed_cursor_retained": False, "database": True}
        assert REGISTRY.get_sample_value("taskplane_notification_feed_cursor_expired") == 1
        assert "EVENT FEED CURSOR EXPIRED" in capsys.readouterr().out
        cursor = db.execute("SELECT cursor FROM notifications.consumer_state").fetchall()
        assert cursor == [("0-0",)], "the cursor stays where it was"
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await app.state.background.peers.aclose()
        await app.state.database.dispose()


async def test_routing_continues_the_trace_an_event_carries(
    notify_db_url: str, tokens: TokenFactory, db: psycopg.Connection[Any]
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    event = {
        "id": 7,
        "type": "task.completed",
        "task_id": "0b6f2a52-8f3c-4d55-9a37-3b1a6c8e2f10",
        "queue": None,
        "owner_id": None,
        "data": {},
        "occurred_at": "2026-01-01T00:00:00+00:00",
        "cursor": "100-7",
        "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
    }
    page = {"items": [event], "next_cursor": "100-7"}
    feed = json_server(lambda _: (200, "application/json", page))
    app = build_test_app(
        notify_db_url,
        tokens,
        background_enabled=True,
        task_service_url=f"http://127.0.0.1:{feed.server_address[1]}",
        service_token="test-token",
    )
    try:
        with captured_spans() as spans:
            assert await app.state.background.consumer.step() == 1
        (route,) = [span for span in spans if span.name == "notification.route"]
        assert route.context is not None
        assert format(route.context.trace_id, "032x") == trace_id
        cursor = db.execute("SELECT cursor FROM notifications.consumer_state").fetchall()
        assert cursor == [("100-7",)]
    finally:
        feed.shutdown()
        await app.state.background.peers.aclose()
        await app.state.database.dispose()
