"""``taskplane-worker`` processes against a real task-service process (the worker tests
and the task-service's stranded-lease test); their handlers live in ``worker_handlers``."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from taskplane_testing.postgres import free_port
from taskplane_testing.processes import process_env, wait_until


@dataclass
class TaskService:
    url: str
    db_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def db(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.db_url, autocommit=True)

    def scalar(self, sql: str, *params: Any) -> Any:
        with self.db() as connection:
            row = connection.execute(sql, params).fetchone()
        assert row is not None
        return row[0]

    def completions(self, queue: str) -> Counter[Any]:
        """How many ``task.completed`` events each task of ``queue`` has."""
        with self.db() as db:
            rows = db.execute(
                "SELECT task_id FROM tasks.events WHERE queue = %s AND type = 'task.completed'",
                (queue,),
            ).fetchall()
        return Counter(row[0] for row in rows)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def start_task_service(
    db_url: str, log: Path, env: dict[str, str] | None = None, port: int | None = None
) -> TaskService:
    """``python -m task_service serve`` on ``port`` (a free one by default), once
    ``/readyz`` answers 200.

    ``db_url`` must already be migrated; ``env`` overrides the test settings below.
    """
    port = port or free_port()
    environment = process_env(
        "task_service",
        {
            "DATABASE_URL": db_url,
            "TASKPLANE_AUTH_DISABLED": "true",
            "TASKPLANE_REAPER_INTERVAL_S": "0.5",
            "TASKPLANE_POLL_INTERVAL_S": "0.5",
            "TASKPLANE_DB_POOL_SIZE": "20",
            "TASKPLANE_LOG_LEVEL": "WARNING",
            **(env or {}),
        },
    )
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "task_service",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    service = TaskService(f"http://127.0.0.1:{port}", db_url, process, log)

    def ready() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"{service.url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, 60, "task-service did not become ready")
    except BaseException:
        process.kill()
        process.wait(timeout=10)
        raise
    return service


@dataclass
class Workers:
    """Starts ``taskplane-worker`` processes and stops whatever is left at the end."""

    service: TaskService
    tmp: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(
        self,
        queue: str,
        handler: str,
        *,
        worker_id: str,
        concurrency: int = 4,
        grace_period: float = 20,
        metrics_port: int = 0,
        wait_s: float = 2,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        environment = process_env(
            "taskplane_worker",
            {"TASKPLANE_API_URL": self.service.url, "LOG_LEVEL": "WARNING", **(env or {})},
        )
        log = open(self.tmp / f"{worker_id}.log", "wb")  # noqa: SIM115 - lives with the process
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "taskplane_worker",
                "--queue",
                queue,
                "--handler",
                handler,
                "--concurrency",
                str(concurrency),
                "--worker-id",
                worker_id,
                "--grace-period",
                str(grace_period),
                "--metrics-port",
                str(metrics_port),
                "--wait",
                str(wait_s),
            ],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.started.append(process)
        return process

    def log(self, worker_id: str) -> str:
        return (self.tmp / f"{worker_id}.log").read_text()

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def wait_for(predicate: Any, timeout: float, message: str, interval: float = 0.2) -> None:
    """The shared bounded wait, in the argument order these tests have always used."""
    wait_until(predicate, message, timeout, interval)


#: The ``python:`` handler module the worker processes of these tests run.
HANDLERS = "python:taskplane_testing.worker_handlers"


def configure(service: TaskService, queue: str, **config: Any) -> None:
    """Create or reconfigure ``queue`` (the service runs with auth off)."""
    response = httpx.put(f"{service.url}/api/v1/queues/{queue}", json=config)
    assert response.status_code in (200, 201), response.text


def enqueue(service: TaskService, queue: str, tasks: list[dict[str, Any]], **kw: Any) -> list[str]:
    """Enqueue ``tasks`` in one request; their ids."""
    response = httpx.post(
        f"{service.url}/api/v1/queues/{queue}/tasks", json={"tasks": tasks}, timeout=30, **kw
    )
    assert response.status_code == 201, response.text
    return [task["id"] for task in response.json()["tasks"]]


def statuses(service: TaskService, queue: str) -> dict[str, int]:
    """How many tasks of ``queue`` are in each status (read from the database)."""
    with service.db() as db:
        rows = db.execute(
            "SELECT status, count(*) FROM tasks.queue_tasks WHERE queue = %s GROUP BY status",
            (queue,),
        ).fetchall()
    return dict(rows)


def task(service: TaskService, task_id: str) -> dict[str, Any]:
    """A task's status, result, last error and attempts (read from the database)."""
    with service.db() as db:
        cursor = db.execute(
            "SELECT status, result, last_error, attempts FROM tasks.queue_tasks WHERE id = %s",
            (task_id,),
        )
        row = cursor.fetchone()
    assert row is not None
    return dict(zip(["status", "result", "last_error", "attempts"], row, strict=True))
