"""No lease is stranded by a client that left: real processes, SIGKILL.

A worker killed while its long-poll waits leaves the server-side long-poll behind; when
a task arrives, that long-poll must not claim it for the dead socket (where it would sit
``in_flight`` for a whole visibility timeout). The queue's visibility timeout is 300 s,
so a fresh lease getting the task within the generous 20 s bound proves it was never
stranded.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from task_service import queue as engine
from taskplane_common.migrations import upgrade
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import process_env
from taskplane_testing.workers import TaskService, start_task_service, wait_for

Q = "stranded"
WORKER_WAIT_S = 60
WORKER_OPTIONS = {"--queue": Q, "--handler": "builtin:noop", "--concurrency": "1"}
WORKER_OPTIONS |= {"--metrics-port": "0", "--wait": str(WORKER_WAIT_S)}
# The HTTP lease long-poll is what this test is about (the streaming lease has its own
# test of a killed worker in apps/worker/tests/test_lease_stream.py).
WORKER_ARGS = [arg for option in WORKER_OPTIONS.items() for arg in option] + ["--no-stream"]


@pytest.fixture
def service(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[TaskService]:
    db_url = postgres_server.create_database("stranded_leases")
    upgrade("task_service", db_url)
    running = start_task_service(
        db_url, tmp_path / "server.log", env={"TASKPLANE_MAX_WAIT_S": str(WORKER_WAIT_S)}
    )
    yield running
    running.stop()


def _post_requests(service: TaskService) -> tuple[float, float]:
    """(POST requests in progress, complete calls answered) from the service's metrics."""
    in_progress = completes = 0.0
    for family in text_string_to_metric_families(httpx.get(f"{service.url}/metrics").text):
        for sample in family.samples:
            if sample.name == "http_requests_in_progress" and sample.labels["method"] == "POST":
                in_progress += sample.value
            route = sample.labels.get("route", "")
            if sample.name == "http_requests_total" and route.endswith("/complete"):
                completes += sample.value
    return in_progress, completes


def test_a_killed_long_poll_strands_nothing(service: TaskService, tmp_path: Path) -> None:
    api = httpx.Client(base_url=f"{service.url}/api/v1", timeout=WORKER_WAIT_S)
    assert api.put(f"/queues/{Q}", json={"visibility_timeout_s": 300}).status_code == 201
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "taskplane_worker", *WORKER_ARGS],
            env=process_env(
                "taskplane_worker", {"TASKPLANE_API_URL": service.url, "LOG_LEVEL": "WARNING"}
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        first = api.post(f"/queues/{Q}/tasks", json={"payload": {"n": 1}}).json()
        wait_for(
            lambda: api.get(f"/tasks/{first['id']}").json()["status"] == "completed",
            30,
            "the worker did not complete its first task",
        )
        # The worker is idle: once its completion was answered, the one POST still in
        # progress is its next lease, long-polling on the server.
        wait_for(lambda: _post_requests(service) >= (1, 1), 30, "no long-poll in progress")
        assert _post_requests(service)[0] == 1
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)

        task = api.post(f"/queues/{Q}/tasks", json={"payload": {"n": 2}}).json()
        fresh = api.post(
            f"/queues/{Q}/leases", json={"worker_id": "fresh", "max_tasks": 1, "wait_s": 20}
        ).json()
        assert [(t["id"], t["attempt"]) for t in fresh["tasks"]] == [(task["id"], 1)]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)


async def test_a_lease_whose_client_left_during_the_claim_goes_back(
    app: FastAPI, client: httpx.AsyncClient, db: psycopg.Connection[Any]
) -> None:
    """The client leaves between the check and the claim: what was claimed is handed
    back at once, available again with the attempt not counted."""
    task = (await client.post(f"/api/v1/queues/{Q}/tasks", json={"payload": {}})).json()
    answers = iter([False, True])

    async def client_gone() -> bool:
        return next(answers)

    async with app.state.database.sessionmaker() as session:
        granted = await engine.lease_wait(
            session,
            app.state.notifier,
            Q,
            "leaving",
            1,
            wait_s=0,
            timeout_grace_s=5,
            reclaim_batch=10,
            client_gone=client_gone,
        )
    assert granted.tasks == []
    row = db.execute(
        "SELECT status, attempts, lease_id FROM tasks.queue_tasks WHERE id = %s", (task["id"],)
    ).fetchone()
    assert row == ("pending", 0, None)
    events = db.execute(
        "SELECT type, data->>'reason' FROM tasks.events WHERE task_id = %s ORDER BY id",
        (task["id"],),
    ).fetchall()
    assert events == [
        ("task.created", None),
        ("task.updated", None),
        ("task.updated", "undelivered"),
    ]
