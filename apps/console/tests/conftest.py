"""The whole platform for the console's browser tests, started once for all of them.

Real processes on one real PostgreSQL database: auth-, user-, task- and
notification-service, the console service in front of them, a webhook receiver, and
Debian's Chromium driven by Playwright's Python API (never a downloaded browser).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from console_service.build import ensure_built
from taskplane_testing.postgres import PostgresServer, free_port
from taskplane_testing.processes import ServiceProcess, stop_process

ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "a long enough local password"
PASSWORD = "another long enough password"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


@dataclass
class Receiver:
    """A webhook receiver that answers 204 and remembers what it got."""

    received: list[dict[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.received.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@dataclass
class Console:
    """The running platform and what the tests need to drive it."""

    url: str
    auth: ServiceProcess
    tasks: ServiceProcess
    notify: ServiceProcess
    database_url: str
    receiver: Receiver
    worker_env: dict[str, str]
    users: dict[str, str] = field(default_factory=dict)

    def token(self, email: str, password: str = PASSWORD) -> str:
        """An access token of ``email`` straight from the auth-service (the API side)."""
        response = httpx.post(
            f"{self.auth.url}/api/v1/auth/token",
            data={"username": email, "password": password},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(ADMIN_EMAIL, ADMIN_PASSWORD)}"}

    def as_user(self, email: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(email)}"}

    def add_user(self, email: str, role: str) -> str:
        made = httpx.post(
            f"{self.auth.url}/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "full_name": email.split("@")[0]},
            timeout=30,
        )
        assert made.status_code == 201, made.text
        user_id = str(made.json()["id"])
        if role != "member":
            changed = httpx.patch(
                f"{self.auth.url}/api/v1/admin/users/{user_id}",
                json={"role": role},
                headers=self.admin(),
                timeout=30,
            )
            assert changed.status_code == 200, changed.text
        self.users[email] = user_id
        return user_id

    def api(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
        """Call a service directly (not through the console) and return the response."""
        base = self.notify.url if path.startswith("/api/v1/webhooks") else self.tasks.url
        return httpx.request(method, f"{base}{path}", headers=headers, timeout=30, **kwargs)

    @contextlib.contextmanager
    def worker(self, queue: str, handler: str) -> Iterator[None]:
        """A worker process on ``queue`` for the duration of the block."""
        token = httpx.post(
            f"{self.auth.url}/api/v1/admin/service-tokens",
            json={"name": f"worker-{queue}", "scopes": ["queues:work"]},
            headers=self.admin(),
            timeout=30,
        ).json()["token"]
        argv = [sys.executable, "-m", "taskplane_worker", "--queue", queue, "--handler", handler]
        argv += ["--metrics-port", str(free_port()), "--metrics-host", "127.0.0.1"]
        process = subprocess.Popen(
            [*argv, "--wait", "2"],
            env={**self.worker_env, "TASKPLANE_TOKEN": token},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if process.poll() is not None:
            raise RuntimeError(f"the worker on {queue} exited with {process.returncode}")
        try:
            yield
        finally:
            stop_process(process)


def _service(module: str, env: dict[str, str], **extra: str) -> ServiceProcess:
    name = module.replace("_", "-")
    return ServiceProcess(module, {**env, "OTEL_SERVICE_NAME": name, **extra})


@pytest.fixture(scope="module")
def console(postgres_server: PostgresServer) -> Iterator[Console]:
    """Every service once for all the browser tests (one module: starting them is most of
    the cost), stopped when they are done."""
    static = ensure_built()
    database_url = postgres_server.create_database("console_browser")
    env = {
        "DATABASE_URL": database_url,
        "TASKPLANE_ENVIRONMENT": "development",
        "TASKPLANE_LOG_LEVEL": "WARNING",
    }
    receiver = Receiver().start()
    with contextlib.ExitStack() as stack:
        auth = stack.enter_context(
            _service(
                "auth_service",
                env,
                TASKPLANE_BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
                TASKPLANE_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
                TASKPLANE_ARGON2_TIME_COST="1",
                TASKPLANE_ARGON2_MEMORY_KIB="1024",
                TASKPLANE_LOGIN_MAX_ATTEMPTS_PER_ADDRESS="100000",
            )
        )
        verified = {**env, "TASKPLANE_JWKS_URL": f"{auth.url}/.well-known/jwks.json"}
        users = stack.enter_context(_service("user_service", verified))
        tasks = stack.enter_context(_service("task_service", verified))
        partial = Console("", auth, tasks, tasks, database_url, receiver, {})
        service_token = httpx.post(
            f"{auth.url}/api/v1/admin/service-tokens",
            json={"name": "notifications", "scopes": ["events:read", "users:read"]},
            headers=partial.admin(),
            timeout=30,
        ).json()["token"]
        notify = stack.enter_context(
            _service(
                "notification_service",
                verified,
                TASKPLANE_AUTH_URL=auth.url,
                TASKPLANE_TASK_SERVICE_URL=tasks.url,
                TASKPLANE_USER_SERVICE_URL=users.url,
                TASKPLANE_SERVICE_TOKEN=service_token,
                TASKPLANE_WEBHOOK_ALLOW_LOOPBACK="true",
                TASKPLANE_FEED_WAIT_S="1",
                TASKPLANE_DISPATCH_POLL_INTERVAL_S="0.2",
            )
        )
        console_port = free_port()
        stack.enter_context(
            ServiceProcess(
                "console_service",
                {
                    **verified,
                    "OTEL_SERVICE_NAME": "console",
                    "TASKPLANE_AUTH_URL": auth.url,
                    "TASKPLANE_TASK_SERVICE_URL": tasks.url,
                    "TASKPLANE_USER_SERVICE_URL": users.url,
                    "TASKPLANE_NOTIFICATION_SERVICE_URL": notify.url,
                    "TASKPLANE_STATIC_DIR": str(static),
                },
                port=console_port,
            )
        )
        worker_env = {
            **env,
            "TASKPLANE_API_URL": tasks.url,
            "TASKPLANE_AUTH_URL": auth.url,
            "OTEL_SERVICE_NAME": "taskplane-worker",
        }
        # localhost, not 127.0.0.1: Chromium keeps Secure cookies on http://localhost only.
        yield Console(
            f"http://localhost:{console_port}",
            auth,
            tasks,
            notify,
            database_url,
            receiver,
            {**os.environ, **worker_env},
        )
    if receiver.server is not None:
        receiver.server.shutdown()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Module-scoped: Playwright's sync API keeps an event loop marked running in this
    thread until it stops, which the asyncio tests that follow must not inherit."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium; Playwright's own browser download is never used."""
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


def new_context(
    browser: Browser, console: Console, scheme: str = "light", width: int = 1280
) -> BrowserContext:
    context = browser.new_context(
        base_url=console.url,
        color_scheme=scheme,  # type: ignore[arg-type]
        viewport={"width": width, "height": 900},
    )
    context.set_default_timeout(60_000)
    return context


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/tasks**")
    page.get_by_test_id("who").wait_for()
