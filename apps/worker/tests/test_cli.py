"""The worker's command line as a new user meets it: help, a port already taken, an API
that is not there, and what importing the worker pulls in."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

from taskplane_testing.processes import nowhere_url, process_env


def run_worker(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskplane_worker", *args],
        env=process_env("taskplane_worker", {"LOG_LEVEL": "WARNING", **env}),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_importing_the_worker_pulls_in_no_server_framework() -> None:
    imported = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import taskplane_worker, taskplane_worker.cli"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    modules = {line.rsplit("|", 1)[-1].strip() for line in imported.splitlines() if "|" in line}
    assert "taskplane_worker.runtime" in modules  # the report really lists our imports
    heavy = {m for m in modules if re.match(r"(fastapi|starlette|sqlalchemy|alembic)\b", m)}
    assert heavy == set()
    assert not any(m.startswith("taskplane_common") for m in modules)


def test_help_stands_on_its_own() -> None:
    result = run_worker("--help")
    assert result.returncode == 0
    for needed in ("--queue", "--handler", "builtin:echo", "TASKPLANE_API_URL", "--metrics-port"):
        assert needed in result.stdout
    assert "design" not in result.stdout.lower()


def test_a_metrics_port_in_use_is_one_line_naming_port_and_flag() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_worker(
            "--queue", "q", "--handler", "builtin:noop",
            "--metrics-host", "127.0.0.1", "--metrics-port", str(port),
        )  # fmt: skip
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert f"port {port} is already in use" in line
    assert "--metrics-port" in line
    assert "Traceback" not in result.stdout + result.stderr


def test_an_unreachable_api_is_retried_then_named_in_one_line() -> None:
    url = nowhere_url()
    result = run_worker(
        "--queue", "q", "--handler", "builtin:noop", "--metrics-port", "0",
        "--startup-timeout", "3",
        TASKPLANE_API_URL=url, LOG_LEVEL="INFO",
    )  # fmt: skip
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"taskplane-worker: cannot reach {url} after ")
    assert "TASKPLANE_API_URL" in line
    assert "make run" in line
    retries = [entry for entry in result.stdout.splitlines() if "retrying in" in entry]
    assert len(retries) >= 2, "the start-up probe retries with backoff before giving up"
    assert "Traceback" not in result.stdout + result.stderr


def test_a_token_file_without_an_auth_url_is_refused_at_start() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKPLANE_")}
    result = subprocess.run(
        [sys.executable, "-m", "taskplane_worker", "--queue", "q", "--handler", "builtin:noop"],
        env={**env, "LOG_LEVEL": "WARNING", "TASKPLANE_TOKEN_FILE": "/nonexistent/token"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "TASKPLANE_AUTH_URL" in line
