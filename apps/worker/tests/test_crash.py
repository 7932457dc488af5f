"""Crash test (issue 3): 5,000 tasks, 4 real worker processes, SIGKILL a random worker 5
times mid-run (a replacement starts each time). Every task must end ``completed``
exactly once, none lost, and duplicate executions are bounded by what was in flight on
the killed workers."""

from __future__ import annotations

import random
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from taskplane_testing.workers import TaskService, Workers, wait_for

TASKS = 5_000
WORKERS = 4
KILLS = 5
HANDLER = "python:taskplane_testing.worker_handlers:record"


def completed(service: TaskService, queue: str) -> int:
    return int(
        service.scalar(
            "SELECT count(*) FROM tasks.queue_tasks WHERE queue = %s AND status = 'completed'",
            queue,
        )
    )


@pytest.mark.slow
def test_kill_9_workers_loses_nothing(
    task_service: TaskService,
    workers: Workers,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    queue = f"crash-{uuid.uuid4().hex[:6]}"
    record = tmp_path / "executions.txt"
    env = {"RECORD_FILE": str(record)}
    started = time.monotonic()
    config = {"visibility_timeout_s": 4, "max_attempts": 50, "backoff_base_s": 0.1}
    assert httpx.put(f"{task_service.url}/api/v1/queues/{queue}", json=config).is_success
    for start in range(0, TASKS, 1000):
        batch = [{"payload": {"n": n}} for n in range(start, start + 1000)]
        response = httpx.post(
            f"{task_service.url}/api/v1/queues/{queue}/tasks", json={"tasks": batch}, timeout=60
        )
        assert response.status_code == 201, response.text

    running: dict[str, subprocess.Popen[bytes]] = {}
    serial = 0

    def spawn() -> None:
        nonlocal serial
        serial += 1
        worker_id = f"crash-w{serial}"
        running[worker_id] = workers.start(
            queue, HANDLER, worker_id=worker_id, concurrency=8, env=env
        )

    for _ in range(WORKERS):
        spawn()

    rng = random.Random(3)
    in_flight_at_kills: list[int] = []
    for kill in range(KILLS):
        milestone = TASKS * (kill + 1) // (KILLS + 2)
        wait_for(
            lambda m=milestone: completed(task_service, queue) >= m,
            180,
            f"progress stalled before kill {kill + 1}",
        )
        victim = rng.choice(sorted(running))
        process = running.pop(victim)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        in_flight_at_kills.append(
            int(
                task_service.scalar(
                    "SELECT count(*) FROM tasks.queue_tasks WHERE queue = %s "
                    "AND status = 'in_progress' AND leased_by = %s",
                    queue,
                    victim,
                )
            )
        )
        spawn()

    wait_for(
        lambda: completed(task_service, queue) == TASKS,
        240,
        "not every task completed",
        interval=0.5,
    )
    for process in running.values():
        process.send_signal(signal.SIGTERM)
    exit_codes = [process.wait(timeout=60) for process in running.values()]

    with task_service.db() as db:
        by_status = dict(
            db.execute(
                "SELECT status, count(*) FROM tasks.queue_tasks WHERE queue = %s GROUP BY status",
                (queue,),
            ).fetchall()
        )
    completions = task_service.completions(queue)
    executions = Counter(int(line) for line in record.read_text().split())
    duplicates = sum(executions.values()) - len(executions)
    with capsys.disabled():  # the counts belong in the CI log, not only on failure
        print(
            f"\ncrash test: tasks={TASKS} completed={by_status.get('completed', 0)} "
            f"executions={sum(executions.values())} duplicate_executions={duplicates} "
            f"in_flight_at_kills={in_flight_at_kills} (sum {sum(in_flight_at_kills)}) "
            f"wall={time.monotonic() - started:.1f}s"
        )
    assert by_status == {"completed": TASKS}
    assert len(completions) == TASKS
    assert set(completions.values()) == {1}, "a task was completed twice"
    assert set(executions) == set(range(TASKS)), "a task never ran"
    assert duplicates <= sum(in_flight_at_kills)
    assert exit_codes == [0] * WORKERS
