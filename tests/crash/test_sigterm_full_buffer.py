"""SIGTERM a ``taskplane-worker`` whose completion buffer is full, while the service is slow.

``apps/worker/tests/test_completion_buffer.py`` SIGTERMs a worker whose buffer holds every
task of its queue. This one goes further, checked only through the API and the handler's
record: the buffer reaches its bound (``TASKPLANE_WORKER_COMPLETE_BACKLOG``), so the
worker stops leasing with most of the queue still waiting; then the service turns slow
(every request held a second on its way in, by the worker's
:class:`taskplane_testing.tcp_front.TcpFront`) and the worker gets SIGTERM. Every
buffered completion must be recorded before it exits, nothing else may be left leased,
and a second worker then runs the rest: every task runs exactly once and is completed
exactly once.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskplane_testing.queue_view import RECORD_HANDLER, QueueView, executions
from taskplane_testing.tcp_front import TcpFront
from taskplane_testing.workers import TaskService, Workers, start_task_service, wait_for

TASKS = 300
BACKLOG = 48
#: Far beyond the test: no lease may expire while results wait in the buffer.
VISIBILITY_TIMEOUT_S = 120


@pytest.fixture
def service(database: str, tmp_path: Path) -> Iterator[TaskService]:
    running = start_task_service(database, tmp_path / "server.log")
    yield running
    running.stop()


def test_sigterm_reports_a_full_buffer_through_a_slow_service(
    service: TaskService, tmp_path: Path
) -> None:
    view = QueueView(service.url, f"backlog-{uuid.uuid4().hex[:6]}")
    view.configure(visibility_timeout_s=VISIBILITY_TIMEOUT_S)
    ids = view.enqueue(TASKS)
    record = tmp_path / "executions.txt"
    front = TcpFront(service.url)
    workers = Workers(service, tmp_path)
    try:
        # Results flush only at 1,000 or after an hour: the buffer fills to its bound.
        buffered = workers.start(
            view.queue,
            RECORD_HANDLER,
            worker_id="full",
            concurrency=8,
            env={
                "RECORD_FILE": str(record),
                "TASKPLANE_API_URL": front.url,
                "TASKPLANE_WORKER_COMPLETE_BATCH": "1000",
                "TASKPLANE_WORKER_COMPLETE_FLUSH_S": "3600",
                "TASKPLANE_WORKER_COMPLETE_BACKLOG": str(BACKLOG),
            },
        )

        def full() -> bool:
            ran: int = sum(executions(record).values())
            return ran >= BACKLOG and int(view.stats()["in_flight"]) == ran

        wait_for(full, 120, "the buffer never filled")
        held = view.stats()
        assert held["completed_total"] == 0, "a completion left before the SIGTERM"
        assert held["available"] > 0, "the full buffer did not stop the leasing"

        front.delay_s = 1.0
        buffered.send_signal(signal.SIGTERM)
        assert buffered.wait(timeout=90) == 0, workers.log("full")
        front.delay_s = 0.0

        ran_first = executions(record)
        after = view.stats()
        assert after["completed_total"] == sum(ran_first.values()), "a buffered result was lost"
        assert after["in_flight"] == 0, "the worker left a lease behind"
        assert after["available"] == TASKS - after["completed_total"], after

        rest = workers.start(
            view.queue, RECORD_HANDLER, worker_id="rest", env={"RECORD_FILE": str(record)}
        )
        wait_for(lambda: view.completed() >= TASKS, 120, "the rest never completed", 0.5)
        rest.send_signal(signal.SIGTERM)
        assert rest.wait(timeout=60) == 0, workers.log("rest")
    finally:
        workers.stop_all()
        front.close()

    ran = executions(record)
    assert set(ran) == set(range(TASKS)), "a task never ran"
    assert [n for n, times in ran.items() if times > 1] == [], "a task ran twice"
    completions = view.completions()
    assert set(completions) == set(ids), "a task was never completed"
    assert set(completions.values()) == {1}, "a task was completed twice"
