"""Real processes and real traffic for the observability tests (tests/observability):
auth-service and task-service (the shared test platform), a notification-service reading
the task feed, and a ``taskplane-worker`` with its metrics port, completing tasks of one
queue and failing every task of another (until they are dead letters)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from taskplane_testing.http import LoopbackServer
from taskplane_testing.platform import Platform
from taskplane_testing.postgres import PostgresServer, free_port
from taskplane_testing.processes import ServiceProcess, process_env, stop_process

OK_QUEUE = "obs-ok"
FAILING_QUEUE = "obs-failing"
#: Worked through a FlakyGate: its worker retries refused leases.
FLAKY_QUEUE = "obs-flaky"


@dataclass
class Worker:
    """A real worker process; its output goes to a file (read by the log checks)."""

    queue: str
    metrics_url: str
    log: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, queue: str, handler: str, env: dict[str, str]) -> Worker:
        port = free_port()
        log = Path(tempfile.mkstemp(prefix=f"worker-{queue}-", suffix=".log")[1])
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "taskplane_worker", "--queue", queue,
                 "--handler", handler, "--metrics-port", str(port), "--wait", "1"],
                env=process_env("taskplane_worker", env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        return cls(queue, f"http://127.0.0.1:{port}/metrics", log, process)

    def stop(self) -> None:
        stop_process(self.process, grace_s=30)


class FlakyGate(LoopbackServer):
    """A real HTTP proxy in front of the task-service that answers the first ``failures``
    requests to paths ending in ``refused`` with 503 (as during a rolling restart), so a
    client behind it counts transient API errors; everything else is passed through."""

    def __init__(self, upstream: str, refused: str, failures: int) -> None:
        self.upstream, self.refused, self.failures_left = upstream, refused, failures
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gate.forward(self)

            def do_POST(self) -> None:
                gate.forward(self)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the worker's own log shows what it saw."""

        self._lock = threading.Lock()
        super().__init__(Handler)

    def _refuse(self, path: str) -> bool:
        with self._lock:
            if urlsplit(path).path.endswith(self.refused) and self.failures_left > 0:
                self.failures_left -= 1
                return True
            return False

    def forward(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("content-length") or 0))
        if self._refuse(request.path):
            status, headers, content = (
                503,
                {"content-type": "application/problem+json"},
                (b'{"title": "Service Unavailable", "status": 503}'),
            )
        else:
            upstream = httpx.request(
                request.command,
                f"{self.upstream}{request.path}",
                content=body,
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                timeout=60,
            )
            status, content = upstream.status_code, upstream.content
            headers = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() in {"content-type", "location", "retry-after"}
            }
        request.send_response(status)
        for key, value in headers.items():
            request.send_header(key, value)
        request.send_header("content-length", str(len(content)))
        request.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            request.wfile.write(content)  # a client stopped mid long-poll is gone


class WebhookReceiver(LoopbackServer):
    """A real webhook receiver: ``/ok`` answers 204, ``/broken`` 500 (until the
    notification-service gives up: failed deliveries); it keeps the paths it was sent."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.paths.append(self.path)
                self.send_response(204 if self.path == "/ok" else 500)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the notification-service logs its deliveries."""

        super().__init__(Handler)


def profile_service(postgres: PostgresServer, platform: Platform, database: str) -> ServiceProcess:
    """A healthy user-service: the profiles the notification-service reads recipients from."""
    return ServiceProcess(
        "user_service",
        {
            "DATABASE_URL": postgres.create_database(database),
            "TASKPLANE_ENVIRONMENT": "development",
            "TASKPLANE_JWKS_URL": f"{platform.auth.url}/.well-known/jwks.json",
            "OTEL_SERVICE_NAME": "user-service",
        },
    )


def notification_service(
    postgres: PostgresServer,
    platform: Platform,
    database: str,
    *,
    task_service_url: str,
    user_service_url: str,
    token: str,
) -> ServiceProcess:
    """A notification-service that may deliver to loopback receivers, retries quickly and
    gives a delivery up after two attempts."""
    return ServiceProcess(
        "notification_service",
        {
            "DATABASE_URL": postgres.create_database(database),
            "TASKPLANE_ENVIRONMENT": "development",
            "TASKPLANE_JWKS_URL": f"{platform.auth.url}/.well-known/jwks.json",
            "TASKPLANE_TASK_SERVICE_URL": task_service_url,
            "TASKPLANE_AUTH_URL": platform.auth.url,
            "TASKPLANE_SERVICE_TOKEN": token,
            "TASKPLANE_FEED_WAIT_S": "1",
            "TASKPLANE_USER_SERVICE_URL": user_service_url,
            "TASKPLANE_WEBHOOK_ALLOW_LOOPBACK": "true",
            "TASKPLANE_DISPATCH_POLL_INTERVAL_S": "0.2",
            "TASKPLANE_DELIVERY_BACKOFF_BASE_S": "0.2",
            "TASKPLANE_DELIVERY_BACKOFF_MAX_S": "1",
            "TASKPLANE_DELIVERY_MAX_ATTEMPTS": "2",
            "OTEL_SERVICE_NAME": "notification-service",
        },
    )


def subscribe(notifier_url: str, headers: dict[str, str], url: str) -> None:
    response = httpx.post(
        f"{notifier_url}/api/v1/webhooks",
        json={"url": url, "events": ["task.completed"]},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 201, response.text


@dataclass(frozen=True)
class Traffic:
    """What ran: the /metrics URL of every process, their log files, the secrets in play."""

    metrics_urls: dict[str, str]
    logs: dict[str, Path]
    secrets: dict[str, str]


def assert_no_secret_logged(logs: dict[str, Path], secrets: dict[str, str]) -> None:
    """No log line of any process carries a token or password in play."""
    for name, path in logs.items():
        text = path.read_text(errors="replace")
        for secret_name, secret in secrets.items():
            assert secret not in text, f"{secret_name} in the log of {name}"


def enqueue(tasks_url: str, headers: dict[str, str], queue: str, body: dict[str, Any]) -> str:
    response = httpx.post(
        f"{tasks_url}/api/v1/queues/{queue}/tasks", json=body, headers=headers, timeout=30
    )
    assert response.status_code == 201, response.text
    return f"{tasks_url}{response.headers['location']}"


def status_of(task_url: str, headers: dict[str, str]) -> str:
    body: dict[str, Any] = httpx.get(task_url, headers=headers, timeout=30).json()
    return str(body["status"])
