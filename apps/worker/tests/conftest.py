"""Fixtures for the worker tests: a real task-service (uvicorn in a subprocess) on a
real PostgreSQL, and a pool of real ``taskplane-worker`` processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from taskplane_common.migrations import upgrade
from taskplane_common.testing.postgres import PostgresServer, free_port

# The helpers and the python: test handlers live next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from worker_testkit import TaskService, Workers, wait_for


@pytest.fixture(scope="session")
def task_service(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TaskService]:
    db_url = postgres_server.create_database("worker_tests")
    upgrade("task_service", db_url)
    port = free_port()
    log = tmp_path_factory.mktemp("task-service") / "server.log"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "TASKPLANE_AUTH_DISABLED": "true",
        "TASKPLANE_REAPER_INTERVAL_S": "0.5",
        "TASKPLANE_POLL_INTERVAL_S": "0.5",
        "TASKPLANE_DB_POOL_SIZE": "20",
        "TASKPLANE_LOG_LEVEL": "WARNING",
    }
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
            env=env,
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

    wait_for(ready, 60, "task-service did not become ready")
    yield service
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def workers(task_service: TaskService, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(task_service, tmp_path)
    yield pool
    pool.stop_all()
