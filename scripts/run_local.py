"""`make run`: the whole platform on this machine, no Docker or cluster needed.

Starts an embedded PostgreSQL (the ``pgserver`` wheel, data in ``.local/pgdata``) unless
``DATABASE_URL`` is set, applies every service's migrations, then runs each service and
worker as a child process with JSON logs prefixed by its name. The worker's queue is
created (with the defaults, unless it exists) before the worker starts, so it leases
at once. Ctrl-C (or SIGTERM) stops the children gracefully, then the embedded database.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

import httpx

from taskplane_client import NotFoundError, QueueConfig, TaskplaneClient, TaskplaneError

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
PGDATA = LOCAL / "pgdata"
DATABASE = "taskplane"


@dataclass(frozen=True)
class Component:
    """One process of the local platform."""

    name: str
    argv: list[str]
    port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    migrate_module: str | None = None
    #: Environment computed just before start (e.g. a token from a service started earlier).
    late_env: Callable[[], dict[str, str]] | None = None
    #: Run just before start: what the process needs from a service started earlier.
    prepare: Callable[[], None] | None = None


ADMIN_EMAIL = "admin@taskplane.local"
AUTH_URL = "http://127.0.0.1:8001"
JWKS_URL = f"{AUTH_URL}/.well-known/jwks.json"
TASK_SERVICE_URL = "http://127.0.0.1:8003"
#: The queue the local worker serves.
WORKER_QUEUE = "default"
CONSOLE_PORT = 8005


def service(name: str, module: str, port: int, **env: str) -> Component:
    return Component(
        name=name,
        argv=[sys.executable, "-m", module, "serve", "--host", "127.0.0.1", "--port", str(port)],
        port=port,
        env={"OTEL_SERVICE_NAME": name, **env},
        migrate_module=module,
    )


def components(admin_password: str) -> list[Component]:
    """What `make run` starts, in order (each waits for the previous to be ready)."""
    return [
        service(
            "auth-service",
            "auth_service",
            8001,
            TASKPLANE_BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
            TASKPLANE_BOOTSTRAP_ADMIN_PASSWORD=admin_password,
        ),
        service("user-service", "user_service", 8002, TASKPLANE_JWKS_URL=JWKS_URL),
        service("task-service", "task_service", 8003, TASKPLANE_JWKS_URL=JWKS_URL),
        Component(
            name="worker",
            argv=[
                sys.executable,
                "-m",
                "taskplane_worker",
                "--queue",
                WORKER_QUEUE,
                "--handler",
                "builtin:echo",
                "--concurrency",
                "4",
                "--metrics-port",
                "9100",
            ],
            env={
                "OTEL_SERVICE_NAME": "taskplane-worker",
                "TASKPLANE_API_URL": TASK_SERVICE_URL,
                "TASKPLANE_AUTH_URL": AUTH_URL,
            },
            late_env=lambda: {
                "TASKPLANE_TOKEN": service_token(admin_password, "worker-token", ["queues:work"])
            },
            prepare=lambda: create_worker_queue(admin_password),
        ),
        replace(
            service(
                "notification-service",
                "notification_service",
                8004,
                TASKPLANE_JWKS_URL=JWKS_URL,
                TASKPLANE_AUTH_URL=AUTH_URL,
                TASKPLANE_TASK_SERVICE_URL=TASK_SERVICE_URL,
                TASKPLANE_USER_SERVICE_URL="http://127.0.0.1:8002",
                # Local receivers (e.g. `python -m http.server`) are on loopback.
                TASKPLANE_WEBHOOK_ALLOW_LOOPBACK="true",
                TASKPLANE_SECRETS_KEK_FILE=str(notification_kek()),
            ),
            late_env=lambda: {
                "TASKPLANE_SERVICE_TOKEN": service_token(
                    admin_password, "notification-token", ["events:read", "users:read"]
                )
            },
        ),
        # The web console (built by `make run` first): no database, nothing to migrate.
        Component(
            name="console",
            argv=[sys.executable, "-m", "console_service", "serve", "--host", "127.0.0.1"],
            port=CONSOLE_PORT,
            env={
                "OTEL_SERVICE_NAME": "console",
                "TASKPLANE_JWKS_URL": JWKS_URL,
                "TASKPLANE_AUTH_URL": AUTH_URL,
                "TASKPLANE_TASK_SERVICE_URL": TASK_SERVICE_URL,
                "TASKPLANE_USER_SERVICE_URL": "http://127.0.0.1:8002",
                "TASKPLANE_NOTIFICATION_SERVICE_URL": "http://127.0.0.1:8004",
            },
        ),
    ]


def service_token(password: str, name: str, scopes: list[str]) -> str:
    """A service token with ``scopes``, kept in .local/<name> and reused while it works."""
    path = LOCAL / name
    if path.exists():
        token = path.read_text().strip()
        exchange = httpx.post(f"{AUTH_URL}/api/v1/auth/service-token", json={"token": token})
        if exchange.status_code == 200:
            return token
    created = httpx.post(
        f"{AUTH_URL}/api/v1/admin/service-tokens",
        json={"name": f"local-{name}", "scopes": scopes},
        headers={"Authorization": f"Bearer {admin_access_token(password)}"},
    )
    created.raise_for_status()
    token = str(created.json()["token"])
    path.write_text(token)
    path.chmod(0o600)
    return token


def admin_access_token(password: str) -> str:
    """A fresh access token of the local admin (password login)."""
    login = httpx.post(
        f"{AUTH_URL}/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": password}
    )
    login.raise_for_status()
    return str(login.json()["access_token"])


def ensure_queue(api_url: str, access_token: str, queue: str) -> bool:
    """Create ``queue`` with the default settings unless it exists (one changed since,
    e.g. with ``taskplane queues put``, keeps its settings); True when it was created."""
    with TaskplaneClient(api_url, token=access_token) as client:
        try:
            client.get_queue(queue)
        except NotFoundError:
            client.put_queue(queue, QueueConfig())
            return True
    return False


def create_worker_queue(password: str) -> None:
    """The worker's queue, created unless it exists; when that fails the platform still
    comes up (the worker says that its queue is missing and waits for it)."""
    try:
        created = ensure_queue(TASK_SERVICE_URL, admin_access_token(password), WORKER_QUEUE)
    except (httpx.HTTPError, TaskplaneError) as exc:
        print(f"run: could not create queue {WORKER_QUEUE}: {exc}", flush=True)
        return
    state = "created" if created else "exists already"
    print(f"run: queue {WORKER_QUEUE} {state}; the worker serves it", flush=True)


def local_secret(name: str, make: Callable[[], str]) -> Path:
    """A random local secret in .local/<name>, made once so it survives restarts."""
    path = LOCAL / name
    if not path.exists():
        LOCAL.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path


def admin_password() -> str:
    """A random local admin password, kept in .local/admin-password."""
    return local_secret("admin-password", lambda: secrets.token_urlsafe(18)).read_text().strip()


def notification_kek() -> Path:
    """The notification-service's key-encryption key (it seals webhook secrets at rest):
    32 random bytes in base64, kept in .local/notification-kek."""
    return local_secret(
        "notification-kek", lambda: base64.b64encode(secrets.token_bytes(32)).decode()
    )


def start_embedded_postgres() -> str:
    from pgserver.postgres_server import get_server

    PGDATA.mkdir(parents=True, exist_ok=True)
    server = get_server(PGDATA, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'")  # noqa: S608
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{DATABASE}"')
    print(f"run: embedded PostgreSQL in {PGDATA.relative_to(ROOT)}", flush=True)
    url: str = server.get_uri(DATABASE)
    return url


def pump(name: str, stream: IO[bytes]) -> None:
    """Copy a child's output line by line, prefixed with its name."""
    for raw in iter(stream.readline, b""):
        sys.stdout.write(f"{name:>14} | {raw.decode(errors='replace')}")
        sys.stdout.flush()


def wait_ready(component: Component, timeout_s: float = 60) -> bool:
    deadline = time.monotonic() + timeout_s
    url = f"http://127.0.0.1:{component.port}/readyz"
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def main() -> int:
    argparse.ArgumentParser(
        prog="scripts/run_local.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args()
    env = dict(os.environ)
    env.setdefault("TASKPLANE_ENVIRONMENT", "development")
    env.setdefault("TASKPLANE_LOG_FORMAT", "console")
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = start_embedded_postgres()

    password = admin_password()
    plan = components(password)
    for component in plan:
        if component.migrate_module:
            migrate = subprocess.run(
                [sys.executable, "-m", component.migrate_module, "migrate"],
                env={**env, **component.env},
                check=False,
            )
            if migrate.returncode:
                print(f"run: {component.name} migrations failed; nothing started", flush=True)
                return migrate.returncode

    children: list[tuple[Component, subprocess.Popen[bytes]]] = []
    stopping = threading.Event()

    def stop(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for component in plan:
        if stopping.is_set():
            break
        if component.prepare:
            component.prepare()
        try:
            late = component.late_env() if component.late_env else {}
        except httpx.HTTPError as exc:
            print(f"run: cannot start {component.name}: the auth-service said {exc}", flush=True)
            stopping.set()
            break
        child = subprocess.Popen(
            component.argv,
            env={**env, **component.env, **late},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert child.stdout is not None
        threading.Thread(target=pump, args=(component.name, child.stdout), daemon=True).start()
        children.append((component, child))
        if component.port is None:
            print(f"run: {component.name} started", flush=True)
        elif wait_ready(component):
            print(
                f"run: {component.name} ready on http://127.0.0.1:{component.port} "
                f"(docs: http://127.0.0.1:{component.port}/docs)",
                flush=True,
            )
    if stopping.is_set():
        stop_children(children)
        return 1
    print(
        f"run: web console on http://localhost:{CONSOLE_PORT} (localhost, not 127.0.0.1: "
        "the browser keeps its Secure session cookie on http only for localhost)",
        flush=True,
    )
    print(
        f"run: log in as {ADMIN_EMAIL} with the password in .local/admin-password; "
        "press Ctrl-C to stop",
        flush=True,
    )

    exit_code = 0
    while not stopping.is_set():
        for component, child in children:
            if child.poll() is not None:
                print(f"run: {component.name} exited with {child.returncode}", flush=True)
                exit_code = 1
                stopping.set()
        stopping.wait(0.5)

    stop_children(children)
    return exit_code


def stop_children(children: list[tuple[Component, subprocess.Popen[bytes]]]) -> None:
    """SIGTERM to every child still running, then up to 30 s each before a kill."""
    print("run: stopping", flush=True)
    for _, child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for _, child in children:
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


if __name__ == "__main__":
    sys.exit(main())
