"""Exactly once across two task-service replicas, one of them SIGKILLed mid-run.

Two real task-service processes (uvicorn) on one PostgreSQL; four real ``taskplane-worker``
processes, two behind each replica's front (:class:`taskplane_testing.tcp_front.TcpFront`:
new connections go to the replica, or to the survivor once it is gone, as a Kubernetes
Service routes).
Right before the kill, a client leases tasks from the doomed replica and vanishes with
it: leases nobody holds, which the surviving replica must rescue when they expire. The
workers of the dead replica must carry on through the survivor (their completions in
flight at the kill retried there). Every task must then run exactly once by the handler's
own record and be completed exactly once by the event feed, and the queue must end empty.
"""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from taskplane_testing.queue_view import RECORD_HANDLER, QueueView, executions
from taskplane_testing.tcp_front import TcpFront
from taskplane_testing.workers import TaskService, Workers, start_task_service, wait_for

TASKS = 1_200
WORKERS_PER_REPLICA = 2
STRANDED = 16
CONCURRENCY = 8
#: What one worker may hold at a time, running and prefetched, with room to spare: the
#: dead replica's workers must run more than that after the kill to have carried on.
HELD_BOUND = 2 * CONCURRENCY
#: Short enough that the rescue comes soon, long enough that a worker whose replica died
#: reconnects and heartbeats its leases long before they expire.
VISIBILITY_TIMEOUT_S = 8


@pytest.fixture
def replicas(database: str, tmp_path: Path) -> Iterator[list[TaskService]]:
    started: list[TaskService] = []
    try:
        for name in ("a", "b"):
            started.append(start_task_service(database, tmp_path / f"replica-{name}.log"))
        yield started
    finally:
        for replica in started:
            if replica.process.poll() is None:
                replica.stop()


def test_a_killed_replica_loses_nothing_and_runs_nothing_twice(
    replicas: list[TaskService], tmp_path: Path
) -> None:
    doomed, survivor = replicas
    queue = f"replicas-{uuid.uuid4().hex[:6]}"
    view = QueueView(survivor.url, queue)
    view.configure(visibility_timeout_s=VISIBILITY_TIMEOUT_S, max_attempts=20, backoff_base_s=0.1)
    # 50 ms a task: long enough that the run is far from over when the kill comes (the
    # workers drain 5 ms tasks faster than the test can poll and kill), and past the
    # workers' short-task mark, so each holds its slots plus the usual prefetch at most.
    ids = QueueView(doomed.url, queue).enqueue(TASKS, sleep_s=0.05)
    records = [tmp_path / f"executions-{index}.txt" for index in range(2 * WORKERS_PER_REPLICA)]

    fronts = [TcpFront(doomed.url, survivor.url), TcpFront(survivor.url, doomed.url)]
    workers = Workers(survivor, tmp_path)
    running: list[subprocess.Popen[bytes]] = []
    try:
        for index, record in enumerate(records):
            front = fronts[index % 2]
            running.append(
                workers.start(
                    queue,
                    RECORD_HANDLER,
                    worker_id=f"replica-w{index}",
                    concurrency=CONCURRENCY,
                    env={"RECORD_FILE": str(record), "TASKPLANE_API_URL": front.url},
                )
            )
        wait_for(lambda: view.completed() >= TASKS // 3, 120, "no progress before the kill")

        # A client of the doomed replica takes tasks and is gone with it.
        lease = httpx.post(
            f"{doomed.url}/api/v1/queues/{queue}/leases",
            json={"worker_id": "vanished", "max_tasks": STRANDED, "wait_s": 0},
            timeout=30,
        )
        assert lease.status_code == 200, lease.text
        stranded = {task["lease_id"]: task["id"] for task in lease.json()["tasks"]}
        assert stranded, "nothing left to lease before the kill"
        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait(timeout=30)
        orphaned = records[0::2]  # the workers whose replica died
        before = executions(*orphaned).total()

        wait_for(lambda: view.completed() >= TASKS, 240, "not every task completed", 0.5)
        for process in running:
            process.send_signal(signal.SIGTERM)
        exit_codes = [process.wait(timeout=60) for process in running]
    finally:
        workers.stop_all()
        for front in fronts:
            front.close()

    logs = "\n".join(workers.log(f"replica-w{i}")[-2000:] for i in range(len(running)))
    assert exit_codes == [0] * len(running), logs
    carried_on = executions(*orphaned).total() - before
    assert carried_on > len(orphaned) * HELD_BOUND, "the dead replica's workers stopped"
    ran = executions(*records)
    assert set(ran) == set(range(TASKS)), "a task never ran"
    assert [n for n, times in ran.items() if times > 1] == [], "a task ran twice"
    completions = view.completions()
    assert set(completions) == set(ids), "a task was never completed"
    assert set(completions.values()) == {1}, "a task was completed twice"
    assert set(stranded.values()) <= set(completions), "a stranded lease was never rescued"
    # The vanished client comes back late: its leases were taken from it, so its
    # completion changes nothing.
    late = httpx.post(
        f"{survivor.url}/api/v1/leases/complete",
        json={"worker_id": "vanished", "items": [{"lease_id": key} for key in stranded]},
        timeout=30,
    )
    assert late.status_code == 200, late.text
    assert [item["completed"] for item in late.json()["items"]] == [False] * len(stranded)
    stats = view.stats()
    assert (stats["available"], stats["in_flight"], stats["dead"]) == (0, 0, 0), stats
    assert stats["completed_total"] == TASKS, stats
