"""The task-service client against the task_service fixture, over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from taskplane_operator.client import (
    QueueConfig,
    QueueNotFoundError,
    TaskServiceClient,
    TaskServiceError,
)
from taskplane_operator.model import parse_spec

from .conftest import FakeTaskService, free_port

CONFIG = QueueConfig.from_spec(
    parse_spec({"worker": {"handler": "builtin:noop"}, "retry": {"maxAttempts": 3}, "paused": True})
)


@pytest.fixture
async def client(task_service: FakeTaskService) -> AsyncIterator[TaskServiceClient]:
    async with TaskServiceClient(task_service.url, task_service.token, timeout_s=2) as c:
        yield c


def fresh_queue() -> str:
    return f"q-{uuid.uuid4().hex[:8]}"


def test_config_maps_the_spec_to_the_contract_fields() -> None:
    assert CONFIG.model_dump() == {
        "max_attempts": 3,
        "visibility_timeout_s": 60,
        "backoff_base_s": 2,
        "backoff_max_s": 300,
        "paused": True,
        "rate_limit_per_s": None,
        "max_in_flight": None,
    }


async def test_register_then_read_stats(
    client: TaskServiceClient, task_service: FakeTaskService
) -> None:
    queue = fresh_queue()
    await client.put_queue(queue, CONFIG)
    assert await task_service.queue_config(queue) == CONFIG.model_dump()
    await task_service.set_depth(queue, available=4, in_flight=2, retrying=1)
    stats = await client.get_stats(queue)
    assert (stats.available, stats.in_flight, stats.retrying) == (4, 2, 1)
    assert stats.oldest_available_age_s == 1.5
    assert task_service.requests[-1] == (
        "GET",
        f"/api/v1/queues/{queue}",
        f"Bearer {task_service.token}",
    )


async def test_unknown_queue_is_queue_not_found(client: TaskServiceClient) -> None:
    with pytest.raises(QueueNotFoundError) as caught:
        await client.get_stats(fresh_queue())
    assert caught.value.reason == "QueueNotRegistered"
    assert "queue not found" in caught.value.message  # the problem+json detail


async def test_wrong_token_is_unauthorized(task_service: FakeTaskService) -> None:
    async with TaskServiceClient(task_service.url, "wrong") as client:
        with pytest.raises(TaskServiceError) as caught:
            await client.put_queue(fresh_queue(), CONFIG)
    assert (caught.value.reason, caught.value.status) == ("TaskServiceUnauthorized", 401)


async def test_no_token_sends_no_header(task_service: FakeTaskService) -> None:
    async with TaskServiceClient(task_service.url, None) as client:
        with pytest.raises(TaskServiceError):
            await client.put_queue(fresh_queue(), CONFIG)
    assert task_service.requests[-1][2] is None


async def test_outage_is_unavailable(
    client: TaskServiceClient, task_service: FakeTaskService
) -> None:
    task_service.outage = True
    try:
        with pytest.raises(TaskServiceError) as caught:
            await client.get_stats(fresh_queue())
    finally:
        task_service.outage = False
    assert caught.value.reason == "TaskServiceUnavailable"
    assert "HTTP 503: database unavailable" in caught.value.message


async def test_connection_refused_is_unreachable() -> None:
    async with TaskServiceClient(f"http://127.0.0.1:{free_port()}", "t", timeout_s=2) as client:
        with pytest.raises(TaskServiceError) as caught:
            await client.get_stats("q")
    assert caught.value.reason == "TaskServiceUnreachable"
    assert caught.value.status is None


async def test_delete_with_and_without_the_endpoint(
    client: TaskServiceClient, task_service: FakeTaskService
) -> None:
    queue = fresh_queue()
    await client.put_queue(queue, CONFIG)
    assert await client.delete_queue(queue) is True
    assert await task_service.queue_config(queue) is None
    assert await client.delete_queue(queue) is False  # 404: already gone
    task_service.delete_supported = False
    try:
        assert await client.delete_queue(fresh_queue()) is False  # 405: no such endpoint
    finally:
        task_service.delete_supported = True


async def test_malformed_stats_are_a_bad_response() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"available": "many"}))
    async with TaskServiceClient("http://task-service", transport=transport) as client:
        with pytest.raises(TaskServiceError) as caught:
            await client.get_stats("q")
    assert caught.value.reason == "TaskServiceBadResponse"
