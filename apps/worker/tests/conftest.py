"""Fixtures for the worker tests: a real task-service (uvicorn in a subprocess) on a
real PostgreSQL, and a pool of real ``taskplane-worker`` processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from taskplane_common.migrations import upgrade
from taskplane_testing.postgres import PostgresServer

# The helpers and the python: test handlers live next to this file.
from taskplane_testing.workers import TaskService, Workers, start_task_service


@pytest.fixture(scope="session")
def task_service(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TaskService]:
    db_url = postgres_server.create_database("worker_tests")
    upgrade("task_service", db_url)
    service = start_task_service(db_url, tmp_path_factory.mktemp("task-service") / "server.log")
    yield service
    service.stop()


@pytest.fixture
def workers(task_service: TaskService, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(task_service, tmp_path)
    yield pool
    pool.stop_all()
