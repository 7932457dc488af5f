"""The whole platform for the console's browser tests, started once for all of them.

Real processes on one real PostgreSQL database: auth-, user-, task- and
notification-service, the console service in front of them, a webhook receiver, and
Debian's Chromium driven by Playwright's Python API (never a downloaded browser). The
fixtures are package-scoped: every module of this folder shares one platform and one
browser, torn down before the tests outside it run. The helpers the modules share
(signing in, a fresh browser context, a new member, a same-origin fetch) live here too.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, LiteralString

import httpx
import psycopg
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from console_service.build import ensure_built
from taskplane_testing.platform import Platform, running_platform
from taskplane_testing.postgres import PostgresServer, free_port
from taskplane_testing.processes import ServiceProcess, process_env, stop_process

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
#: The tests rewrite the committed screenshots only when asked (``make screenshots``), so
#: an ordinary run leaves the tree clean.
TAKE_SCREENSHOTS = os.environ.get("TASKPLANE_SCREENSHOTS") == "1"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first browser test also pays for starting the platform (and building the
    console when the sources changed), more than the suite's 300 s per test on a busy
    machine: every test of this folder gets 900 s."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.timeout(900))


@dataclass
class Receiver:
    """A webhook receiver that answers 204 and remembers what it got."""

    received: list[dict[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.bodies.append(self.rfile.read(int(self.headers.get("content-length", 0))))
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


@dataclass(frozen=True)
class Console(Platform):
    """The running platform (auth- and task-service from ``running_platform``, the rest
    started here) and what the tests need to drive it."""

    url: str
    notify: ServiceProcess
    database_url: str
    receiver: Receiver
    worker_env: dict[str, str]
    users: dict[str, str] = field(default_factory=dict)

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token()}"}

    def as_user(self, email: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.login(email, PASSWORD)}"}

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

    def sql(
        self, statement: LiteralString, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Run one statement on the platform's database (committed) and return its rows,
        for what no API offers: seeding in bulk, reading the auth-service's tables."""
        with psycopg.connect(self.database_url.replace("+psycopg", "")) as db:
            cursor = db.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def api(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
        """Call a service directly (not through the console) and return the response."""
        notifying = path.startswith(("/api/v1/webhooks", "/api/v1/notifications"))
        base = self.notify.url if notifying else self.tasks.url
        return httpx.request(method, f"{base}{path}", headers=headers, timeout=30, **kwargs)

    @contextlib.contextmanager
    def worker(self, queue: str, handler: str) -> Iterator[None]:
        """A worker process on ``queue`` for the duration of the block."""
        token = self.service_token(f"worker-{queue}", "queues:work")
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


@pytest.fixture(scope="package")
def console(postgres_server: PostgresServer) -> Iterator[Console]:
    """Every service once for all the browser tests (starting them is most of the cost),
    stopped when they are done."""
    static = ensure_built()
    receiver = Receiver().start()
    with contextlib.ExitStack() as stack:
        platform = stack.enter_context(running_platform(postgres_server, "console_browser"))
        database_url = platform.tasks.env["DATABASE_URL"]
        env = {
            "DATABASE_URL": database_url,
            "TASKPLANE_ENVIRONMENT": "development",
            "TASKPLANE_LOG_LEVEL": "WARNING",
        }
        verified = {**env, "TASKPLANE_JWKS_URL": f"{platform.auth.url}/.well-known/jwks.json"}
        users = stack.enter_context(_service("user_service", verified))
        notify = stack.enter_context(
            _service(
                "notification_service",
                verified,
                TASKPLANE_AUTH_URL=platform.auth.url,
                TASKPLANE_TASK_SERVICE_URL=platform.tasks.url,
                TASKPLANE_USER_SERVICE_URL=users.url,
                TASKPLANE_SERVICE_TOKEN=platform.service_token(
                    "notifications", "events:read", "users:read"
                ),
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
                    "TASKPLANE_AUTH_URL": platform.auth.url,
                    "TASKPLANE_TASK_SERVICE_URL": platform.tasks.url,
                    "TASKPLANE_USER_SERVICE_URL": users.url,
                    "TASKPLANE_NOTIFICATION_SERVICE_URL": notify.url,
                    "TASKPLANE_STATIC_DIR": str(static),
                },
                port=console_port,
            )
        )
        worker_env = {
            **env,
            "TASKPLANE_API_URL": platform.tasks.url,
            "TASKPLANE_AUTH_URL": platform.auth.url,
            "OTEL_SERVICE_NAME": "taskplane-worker",
        }
        # localhost, not 127.0.0.1: Chromium keeps Secure cookies on http://localhost only.
        yield Console(
            platform.auth,
            platform.tasks,
            f"http://localhost:{console_port}",
            notify,
            database_url,
            receiver,
            process_env("taskplane_worker", worker_env),
        )
    if receiver.server is not None:
        receiver.server.shutdown()


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Package-scoped, not session: Playwright's sync API keeps an event loop marked
    running in this thread until it stops, which the asyncio tests that follow must not
    inherit."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium; Playwright's own browser download is never used."""
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


#: ``expect`` assertions wait 5 s by default, which a busy CI machine can overrun while
#: the page still does the right thing: give them the same generous bound as actions.
expect.set_options(timeout=60_000)


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


@pytest.fixture
def context(browser: Browser, console: Console) -> Iterator[BrowserContext]:
    """A fresh browser context (no cookies, no storage) per test, closed even when the
    test fails."""
    opened = new_context(browser, console)
    yield opened
    opened.close()


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/tasks**")
    page.get_by_test_id("who").wait_for()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def member(console: Console, prefix: str = "member", role: str = "member") -> str:
    email = f"{unique(prefix)}@example.org"
    console.add_user(email, role)
    return email


def page_fetch(page: Page, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A same-origin fetch from the page, as the SPA makes it (CSRF header included)."""
    result: dict[str, Any] = page.evaluate(
        """async ([method, path, body]) => {
            const session = await (await fetch('/session')).json();
            const response = await fetch(path, {
                method,
                headers: {'content-type': 'application/json', 'x-csrf-token': session.csrf_token},
                body: body === null ? undefined : JSON.stringify(body),
            });
            return {status: response.status, text: await response.text()};
        }""",
        [method, path, body],
    )
    return result
