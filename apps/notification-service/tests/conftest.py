"""Fixtures for the notification-service tests.

In-process: the app on a migrated database, verifying real ES256 tokens, background work
off. End to end: the real task-service, user-service and notification-service as
processes on one PostgreSQL database (each in its schema, as ``make run`` does), tokens
from the test key served over HTTP, a real webhook receiver and a real SMTP server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from moto.server import ThreadedMotoServer

from notification_service.config import Settings
from notification_service.main import build_app
from taskplane_common.migrations import upgrade
from taskplane_testing.http import asgi_client
from taskplane_testing.notifications import Receiver, SmtpSink, jwks_server
from taskplane_testing.postgres import PostgresServer, empty_schema, free_port
from taskplane_testing.processes import ServiceProcess, nowhere_url
from taskplane_testing.tokens import JWKS_URL, TokenFactory

REGION = "us-east-1"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def moto_url(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[str]:
    """SNS and SQS served by moto in server mode (no AWS account), fake credentials."""
    for key, value in AWS_ENV.items():
        monkeypatch_module.setenv(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="session")
def notify_db_url(postgres_server: PostgresServer) -> str:
    url = postgres_server.create_database("notification_service_tests")
    upgrade("notification_service", url)
    return url


def build_test_app(url: str, tokens: TokenFactory, **overrides: Any) -> FastAPI:
    values: dict[str, Any] = {
        "background_enabled": False,
        "task_service_url": nowhere_url(),
        "user_service_url": nowhere_url(),
        **overrides,
    }
    settings = Settings(DATABASE_URL=url, jwks_url=JWKS_URL, **values)
    app = build_app(settings)
    app.state.token_verifier = tokens.verifier()
    return app


@pytest.fixture(scope="session")
async def app(notify_db_url: str, tokens: TokenFactory) -> AsyncIterator[FastAPI]:
    application = build_test_app(notify_db_url, tokens)
    yield application
    await application.state.database.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, "http://notification-service") as c:
        yield c


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "notify_db_url" in request.fixturenames:
        empty_schema(request.getfixturevalue("notify_db_url"), "notifications")


@pytest.fixture
def db(notify_db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(notify_db_url, autocommit=True) as connection:
        yield connection


@dataclass
class Platform:
    """The real services and peers of the end-to-end tests."""

    tokens: TokenFactory
    db_url: str
    jwks_url: str
    task: ServiceProcess
    users: ServiceProcess
    receiver: Receiver
    smtp: SmtpSink

    def notification_env(self, db_url: str, **overrides: str) -> dict[str, str]:
        """Settings of a notification-service process: loopback receivers allowed, small
        backoff, a service token with the two scopes it needs."""
        return {
            "DATABASE_URL": db_url,
            "TASKPLANE_JWKS_URL": self.jwks_url,
            "TASKPLANE_TASK_SERVICE_URL": self.task.url,
            "TASKPLANE_USER_SERVICE_URL": self.users.url,
            "TASKPLANE_SERVICE_TOKEN": self.tokens.service_token("events:read", "users:read"),
            "TASKPLANE_WEBHOOK_ALLOW_LOOPBACK": "true",
            "TASKPLANE_FEED_WAIT_S": "1",
            "TASKPLANE_DISPATCH_POLL_INTERVAL_S": "0.2",
            "TASKPLANE_DELIVERY_BACKOFF_BASE_S": "0.2",
            "TASKPLANE_DELIVERY_BACKOFF_MAX_S": "1",
            "TASKPLANE_SMTP_HOST": "127.0.0.1",
            "TASKPLANE_SMTP_PORT": str(self.smtp.port),
            "TASKPLANE_SMTP_SECURITY": "none",
            "TASKPLANE_LOG_LEVEL": "WARNING",
            "OTEL_SERVICE_NAME": "notification-service",
            **overrides,
        }

    def enqueue(self, queue: str, headers: dict[str, str], first: int, count: int) -> set[str]:
        """Enqueue ``count`` tasks (payloads ``{"n": first..}``) in one request; their ids."""
        response = httpx.post(
            f"{self.task.url}/api/v1/queues/{queue}/tasks",
            json={"tasks": [{"payload": {"n": first + i}} for i in range(count)]},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return {task["id"] for task in response.json()["tasks"]}


@pytest.fixture(scope="session")
def platform(postgres_server: PostgresServer, tokens: TokenFactory) -> Iterator[Platform]:
    db_url = postgres_server.create_database("notification_e2e")
    jwks = jwks_server(tokens)
    jwks_url = f"http://127.0.0.1:{jwks.server_address[1]}/.well-known/jwks.json"
    env = {"DATABASE_URL": db_url, "TASKPLANE_JWKS_URL": jwks_url, "TASKPLANE_LOG_LEVEL": "WARNING"}
    receiver = Receiver().start()
    smtp = SmtpSink()
    smtp.controller.start()
    task = ServiceProcess("task_service", {**env, "OTEL_SERVICE_NAME": "task-service"}).start()
    users = ServiceProcess("user_service", {**env, "OTEL_SERVICE_NAME": "user-service"})
    try:
        users.start()
        yield Platform(tokens, db_url, jwks_url, task, users, receiver, smtp)
    finally:
        users.stop()
        task.stop()
        receiver.stop()
        smtp.controller.stop()
        jwks.shutdown()


@pytest.fixture(scope="session")
def notifier(platform: Platform) -> Iterator[ServiceProcess]:
    """The notification-service under test, shared by the end-to-end tests."""
    env = platform.notification_env(platform.db_url, TASKPLANE_WEBHOOK_TIMEOUT_S="60")
    service = ServiceProcess("notification_service", env)
    with service:
        yield service
