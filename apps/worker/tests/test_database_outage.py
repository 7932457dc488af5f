"""Database outage test (issue 3, "nothing accepted is ever lost"): a real task-service
and real worker processes on a PostgreSQL server of the test's own, which is stopped
(fast mode) mid-run with tasks in flight, kept down for longer than a heartbeat
interval, and started again on the same port.

Every task accepted (201) before, during or after the outage must end ``completed``
exactly once; enqueues tried during the outage are 503 problem+json and succeed on retry
once the database is back; duplicate executions are bounded by the tasks the workers
held when the database went away; the workers ride it out and still exit 0 on SIGTERM;
the task-service recovers without a restart (``/readyz`` 503 during, 200 after), and its
LISTEN connection and reaper come back by themselves.
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskplane_common.migrations import upgrade
from taskplane_testing.http import assert_problem
from taskplane_testing.postgres import PostgresServer, free_port
from taskplane_testing.workers import TaskService, Workers, start_task_service, wait_for

HANDLER = "python:taskplane_testing.worker_handlers:record"
WORKERS = 3
CONCURRENCY = 8
BEFORE = 700  # accepted before the outage
DURING = 200  # refused with 503 during the outage, accepted on retry after it
AFTER = 94  # accepted after the outage
LONG = 6  # 7 s tasks running across the whole outage: their heartbeats fail during it
LONG_S = 7.0
SHORT_S = 0.02
TOTAL = BEFORE + LONG + DURING + AFTER
#: Heartbeats every VISIBILITY_S / 3 = 4 s, so at least one falls inside the outage; the
#: lease outlives the outage, which is far shorter than the workers' report retry
#: window (WorkerConfig.report_retry_s, 120 s).
VISIBILITY_S = 12
OUTAGE_S = 5.0
#: Long-polls re-check only every 45-75 s without a NOTIFY: a lease that wakes within
#: seconds of an enqueue proves the LISTEN connection is back after the restart.
POLL_INTERVAL_S = 60
PROBE_WAIT_S = 25


@pytest.fixture
def outage_service(
    private_postgres_server: PostgresServer, tmp_path: Path
) -> Iterator[TaskService]:
    db_url = private_postgres_server.create_database("outage")
    upgrade("task_service", db_url)
    service = start_task_service(
        db_url,
        tmp_path / "task-service.log",
        # Pool and overflow (10 + 10) stay well inside the private server's 50 connections.
        {"TASKPLANE_POLL_INTERVAL_S": str(POLL_INTERVAL_S), "TASKPLANE_DB_POOL_SIZE": "10"},
    )
    yield service
    service.stop()


def count(service: TaskService, queue: str, status: str) -> int:
    return int(
        service.scalar(
            "SELECT count(*) FROM tasks.queue_tasks WHERE queue = %s AND status = %s", queue, status
        )
    )


def metric(port: int, name: str) -> float:
    """Sum of a worker's ``name`` series (any labels) on its /metrics endpoint."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((f"{name}{{", f"{name} "))
    )


def status_of(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.TransportError:
        return None


def enqueue(service: TaskService, queue: str, tasks: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(
        f"{service.url}/api/v1/queues/{queue}/tasks", json={"tasks": tasks}, timeout=30
    )


def short(numbers: range) -> list[dict[str, Any]]:
    return [{"payload": {"n": n, "sleep": SHORT_S}} for n in numbers]


@pytest.mark.slow
def test_stopping_the_database_loses_nothing(
    private_postgres_server: PostgresServer,
    outage_service: TaskService,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service, pg = outage_service, private_postgres_server
    started = time.monotonic()
    queue = "outage"
    record = tmp_path / "executions.txt"
    config = {"visibility_timeout_s": VISIBILITY_S, "max_attempts": 50, "backoff_base_s": 0.1}
    assert httpx.put(f"{service.url}/api/v1/queues/{queue}", json=config).is_success
    accepted = 0

    response = enqueue(service, queue, short(range(BEFORE)))
    assert response.status_code == 201, response.text
    accepted += BEFORE

    pool = Workers(service, tmp_path)
    ports = [free_port() for _ in range(WORKERS)]
    running: list[subprocess.Popen[bytes]] = []
    try:
        for index, port in enumerate(ports):
            running.append(
                pool.start(
                    queue,
                    HANDLER,
                    worker_id=f"outage-w{index + 1}",
                    concurrency=CONCURRENCY,
                    metrics_port=port,
                    env={"RECORD_FILE": str(record)},
                )
            )
        wait_for(
            lambda: count(service, queue, "completed") >= BEFORE // 4,
            60,
            "the workers made no progress before the outage",
        )
        # Long tasks jump the queue and are still running when the database goes away.
        long_tasks = [
            {"payload": {"n": n, "sleep": LONG_S}, "priority": "critical"}
            for n in range(BEFORE, BEFORE + LONG)
        ]
        response = enqueue(service, queue, long_tasks)
        assert response.status_code == 201, response.text
        accepted += LONG
        wait_for(
            lambda: (
                int(
                    service.scalar(
                        "SELECT count(*) FROM tasks.queue_tasks WHERE queue = %s "
                        "AND status = 'in_progress' AND (payload->>'n')::int >= %s",
                        queue,
                        BEFORE,
                    )
                )
                == LONG
            ),
            30,
            "the long tasks were not leased",
            interval=0.05,
        )
        in_progress_before_stop = count(service, queue, "in_progress")
        available_before_stop = count(service, queue, "pending")

        # ------------------------------------------------------------ the outage
        pg.stop()  # fast mode: open transactions are rolled back, connections cut
        down_at = time.monotonic()
        ready = httpx.get(f"{service.url}/readyz", timeout=10)
        assert_problem(ready, 503)
        assert httpx.get(f"{service.url}/healthz", timeout=10).status_code == 200
        refused = 0
        during = short(range(BEFORE + LONG, BEFORE + LONG + DURING))
        while time.monotonic() - down_at < OUTAGE_S:
            response = enqueue(service, queue, during)
            problem = assert_problem(response, 503)
            assert problem["type"].endswith("/database-unavailable"), problem
            assert response.headers["retry-after"]
            refused += 1
            time.sleep(0.5)
        # Nothing reaches the database now: what the workers hold is what was in flight
        # when it stopped (and the only tasks that can ever run twice).
        in_flight_at_stop = int(sum(metric(port, "taskplane_worker_in_flight") for port in ports))
        assert all(process.poll() is None for process in running), "a worker died"
        pg.start()
        # ------------------------------------------------------------ recovery

        wait_for(
            lambda: status_of(f"{service.url}/readyz") == 200,
            30,
            "the task-service did not become ready again",
        )
        retries = 0
        while True:  # the client retries its refused batch, as Retry-After invites
            response = enqueue(service, queue, during)
            retries += 1
            if response.status_code == 201 or retries >= 30:
                break
            assert_problem(response, 503)
            time.sleep(0.5)
        assert response.status_code == 201, response.text
        accepted += DURING
        response = enqueue(service, queue, short(range(BEFORE + LONG + DURING, TOTAL)))
        assert response.status_code == 201, response.text
        accepted += AFTER
        assert service.process.poll() is None, "the task-service exited"

        # The LISTEN connection comes back by itself, and wakes long-polls again.
        wait_for(
            lambda: bool(
                service.scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND query LIKE 'LISTEN %%' AND pid <> pg_backend_pid()"
                )
            ),
            30,
            "the task-service's LISTEN connection did not come back",
        )
        probe = f"probe-{uuid.uuid4().hex[:6]}"
        probe_config = {"visibility_timeout_s": 1, "max_attempts": 5}
        assert httpx.put(f"{service.url}/api/v1/queues/{probe}", json=probe_config).is_success
        lease_body = {"worker_id": "probe", "max_tasks": 1, "wait_s": PROBE_WAIT_S}
        with ThreadPoolExecutor(1) as executor:
            parked = executor.submit(
                httpx.post,
                f"{service.url}/api/v1/queues/{probe}/leases",
                json=lease_body,
                timeout=PROBE_WAIT_S + 15,
            )
            time.sleep(1)  # let the long-poll park on its (empty) queue
            probe_id = enqueue(service, probe, [{"payload": {"probe": True}}]).json()["tasks"][0][
                "id"
            ]
            # Bounded well below PROBE_WAIT_S and the poll interval: only a NOTIFY wakes it.
            try:
                leased = parked.result(timeout=10)
            except FutureTimeout:
                pytest.fail("an enqueue after the restart did not wake a parked long-poll")
        assert leased.status_code == 200, leased.text
        assert [task["id"] for task in leased.json()["tasks"]] == [probe_id]
        # Nobody leases the probe queue again: only the reaper can take the lease back.
        wait_for(
            lambda: (
                service.scalar("SELECT status FROM tasks.queue_tasks WHERE id = %s", probe_id)
                == "pending"
            ),
            20,
            "the reaper did not reclaim an expired lease after the restart",
        )

        wait_for(
            lambda: count(service, queue, "completed") == accepted,
            120,
            "not every accepted task completed after the outage",
            interval=0.5,
        )
        survived = [process.poll() is None for process in running]
        api_errors = sum(metric(port, "taskplane_worker_api_errors_total") for port in ports)
        heartbeat_errors = sum(
            metric(port, 'taskplane_worker_api_errors_total{call="heartbeat"}') for port in ports
        )
        lost = sum(
            metric(port, 'taskplane_worker_tasks_total{queue="outage",outcome="lost"}')
            for port in ports
        )
        for process in running:
            process.send_signal(signal.SIGTERM)
        exit_codes = [process.wait(timeout=60) for process in running]
    finally:
        pool.stop_all()

    with service.db() as db:
        by_status = dict(
            db.execute(
                "SELECT status, count(*) FROM tasks.queue_tasks WHERE queue = %s GROUP BY status",
                (queue,),
            ).fetchall()
        )
    completions = service.completions(queue)
    executions = Counter(int(line) for line in record.read_text().split())
    duplicates = sum(executions.values()) - len(executions)
    with capsys.disabled():  # the counts belong in the CI log, not only on failure
        print(
            f"\ndatabase outage test: accepted={accepted} "
            f"completed={by_status.get('completed', 0)} executions={sum(executions.values())} "
            f"duplicate_executions={duplicates} in_flight_at_stop={in_flight_at_stop} "
            f"(in_progress_in_db_just_before={in_progress_before_stop}, "
            f"available={available_before_stop}) refused_503_during_outage={refused} "
            f"retries_after_restart={retries} worker_api_errors={api_errors:.0f} "
            f"(heartbeat {heartbeat_errors:.0f}) "
            f"worker_lost_outcomes={lost:.0f} wall={time.monotonic() - started:.1f}s"
        )
    assert accepted == TOTAL
    assert by_status == {"completed": TOTAL}
    assert len(completions) == TOTAL
    assert set(completions.values()) == {1}, "a task was completed twice"
    assert set(executions) == set(range(TOTAL)), "an accepted task never ran"
    assert in_flight_at_stop > 0, "nothing was in flight when the database stopped"
    assert duplicates <= in_flight_at_stop
    assert refused > 0
    assert api_errors > 0, "the workers never saw the outage"
    assert survived == [True] * WORKERS, "a worker exited during the run"
    assert exit_codes == [0] * WORKERS
