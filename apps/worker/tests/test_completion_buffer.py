"""SIGTERM while the completion buffer holds every finished task: each buffered completion
is recorded before the worker exits, and no task runs twice (real processes)."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

from taskplane_testing.workers import (
    HANDLERS,
    TaskService,
    Workers,
    configure,
    enqueue,
    statuses,
    wait_for,
)

TASKS = 200


def ran(record: Path) -> list[str]:
    return record.read_text().split() if record.exists() else []


def test_sigterm_flushes_a_full_completion_buffer(
    task_service: TaskService, workers: Workers, tmp_path: Path
) -> None:
    queue = f"buffered-{uuid.uuid4().hex[:6]}"
    configure(task_service, queue, visibility_timeout_s=6)
    record = tmp_path / "ran.txt"
    enqueue(task_service, queue, [{"payload": {"n": n, "sleep": 0}} for n in range(TASKS)])
    # The buffer flushes only when 1,000 results wait or an hour after the first: every
    # finished task stays buffered (its lease heartbeated) until the SIGTERM.
    process = workers.start(
        queue,
        f"{HANDLERS}:record",
        worker_id="buffered",
        concurrency=8,
        env={
            "RECORD_FILE": str(record),
            "TASKPLANE_WORKER_COMPLETE_BATCH": "1000",
            "TASKPLANE_WORKER_COMPLETE_FLUSH_S": "3600",
        },
    )
    wait_for(lambda: len(ran(record)) == TASKS, 120, "the handler never ran every task")
    # Past the visibility timeout: the one heartbeat loop keeps the buffered leases held
    # (an expired one would be rescued and run again, failing the checks below).
    time.sleep(7)
    assert statuses(task_service, queue) == {"in_progress": TASKS}, "completions left early"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, workers.log("buffered")
    assert statuses(task_service, queue) == {"completed": TASKS}, workers.log("buffered")
    assert sorted(int(n) for n in ran(record)) == list(range(TASKS)), "a task ran twice or never"
    with task_service.db() as db:
        attempts = db.execute(
            "SELECT max(attempts), count(*) FILTER (WHERE result IS NULL) FROM tasks.queue_tasks"
            " WHERE queue = %s",
            (queue,),
        ).fetchone()
    assert attempts == (1, 0), "a task was leased again, or its result was lost"
