"""The task-service client against the task_service fixture, over real HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from taskplane_operator.client import (
    QueueConfig,
    QueueNotFoundError,
    TaskServiceClient,
    TaskServiceError,
)
from taskplane_operator.model import parse_spec
from taskplane_testing.postgres import free_port
from taskplane_testing.task_service import FakeTaskService, problem, serve_app

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


async def test_delete_and_delete_again(
    client: TaskServiceClient, task_service: FakeTaskService
) -> None:
    queue = fresh_queue()
    await client.put_queue(queue, CONFIG)
    assert await client.delete_queue(queue) is True
    assert await task_service.queue_config(queue) is None
    assert await client.delete_queue(queue) is False  # 404: already gone


async def test_malformed_stats_are_a_bad_response() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"available": "many"}))
    async with TaskServiceClient("http://task-service", transport=transport) as client:
        with pytest.raises(TaskServiceError) as caught:
            await client.get_stats("q")
    assert caught.value.reason == "TaskServiceBadResponse"


# --- service tokens (tps_…) are exchanged at the auth-service, never sent to tasks ---

SERVICE_TOKEN = "tps_operator-test-token"


class AuthService:
    """The auth-service's exchange endpoint, handing out the fake's accepted token."""

    def __init__(self, access_token: str) -> None:
        self.access_token = access_token
        self.exchanged: list[str] = []
        self.url = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/api/v1/auth/service-token")
        async def exchange(request: Request) -> Response:
            token = (await request.json())["token"]
            self.exchanged.append(token)
            if token != SERVICE_TOKEN:
                return problem(401, "the service token is invalid, expired or revoked")
            body = {"access_token": self.access_token, "token_type": "bearer", "expires_in": 900}
            return Response(content=json.dumps(body), media_type="application/json")

        return app


@pytest.fixture
async def auth_service(task_service: FakeTaskService) -> AsyncIterator[AuthService]:
    auth = AuthService(task_service.token)
    async with serve_app(auth.app()) as url:
        auth.url = url
        yield auth


async def test_service_token_is_exchanged_once_and_never_sent_to_the_task_service(
    task_service: FakeTaskService, auth_service: AuthService
) -> None:
    queue = fresh_queue()
    async with TaskServiceClient(
        task_service.url, SERVICE_TOKEN, timeout_s=2, auth_url=auth_service.url
    ) as client:
        await client.put_queue(queue, CONFIG)
        await client.get_stats(queue)
    assert auth_service.exchanged == [SERVICE_TOKEN]  # the access token is reused
    sent = [auth for _, path, auth in task_service.requests if path == f"/api/v1/queues/{queue}"]
    assert sent == [f"Bearer {task_service.token}"] * 2


async def test_refused_service_token_is_a_condition_reason(
    task_service: FakeTaskService, auth_service: AuthService
) -> None:
    async with TaskServiceClient(
        task_service.url, "tps_revoked", timeout_s=2, auth_url=auth_service.url
    ) as client:
        with pytest.raises(TaskServiceError) as caught:
            await client.get_stats(fresh_queue())
    assert (caught.value.reason, caught.value.status) == ("ServiceTokenRejected", 401)
    assert "auth service refused the service token (401)" in caught.value.message


async def test_unreachable_auth_service_is_named_as_such(task_service: FakeTaskService) -> None:
    auth_url = f"http://127.0.0.1:{free_port()}"
    async with TaskServiceClient(
        task_service.url, SERVICE_TOKEN, timeout_s=2, auth_url=auth_url
    ) as client:
        with pytest.raises(TaskServiceError) as caught:
            await client.get_stats(fresh_queue())
    assert caught.value.reason == "AuthServiceUnreachable"
    assert caught.value.message.startswith("auth-service token exchange: ConnectError")


def test_service_token_without_auth_url_is_refused() -> None:
    with pytest.raises(ValueError, match="TASKPLANE_AUTH_URL"):
        TaskServiceClient("http://task-service", SERVICE_TOKEN)
