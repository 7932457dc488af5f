"""Real processes and real traffic for the observability tests (see conftest.py):
auth-service and task-service (the shared test platform), a notification-service reading
the task feed, and a ``taskplane-worker`` with its metrics port, completing tasks of one
queue and failing every task of another (until they are dead letters)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from taskplane_common.testing.postgres import free_port
from taskplane_common.testing.processes import stop_process

OK_QUEUE = "obs-ok"
FAILING_QUEUE = "obs-failing"


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
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        return cls(queue, f"http://127.0.0.1:{port}/metrics", log, process)

    def stop(self) -> None:
        stop_process(self.process, grace_s=30)


@dataclass(frozen=True)
class Traffic:
    """What ran: the /metrics URL of every process, their log files, the secrets in play."""

    metrics_urls: dict[str, str]
    logs: dict[str, Path]
    secrets: dict[str, str]


def enqueue(tasks_url: str, headers: dict[str, str], queue: str, body: dict[str, Any]) -> str:
    response = httpx.post(
        f"{tasks_url}/api/v1/queues/{queue}/tasks", json=body, headers=headers, timeout=30
    )
    assert response.status_code == 201, response.text
    return f"{tasks_url}{response.headers['location']}"


def status_of(task_url: str, headers: dict[str, str]) -> str:
    body: dict[str, Any] = httpx.get(task_url, headers=headers, timeout=30).json()
    return str(body["status"])
