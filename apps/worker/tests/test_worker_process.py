"""Real ``taskplane-worker`` processes against a real task-service: outcomes, errors
that never crash the worker, trace continuation, /metrics and /healthz, SIGTERM drain."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from opentelemetry import context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from taskplane_common.migrations import upgrade
from taskplane_testing.postgres import PostgresServer, free_port
from taskplane_testing.workers import (
    HANDLERS,
    TaskService,
    Workers,
    configure,
    enqueue,
    start_task_service,
    statuses,
    task,
    wait_for,
)


def test_outcomes_errors_trace_and_metrics(
    task_service: TaskService, workers: Workers, tmp_path: Path
) -> None:
    queue = f"mixed-{uuid.uuid4().hex[:6]}"
    configure(task_service, queue, max_attempts=1)
    record = tmp_path / "trace.txt"
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    echo, boom, slow = enqueue(
        task_service,
        queue,
        [
            {"payload": {"op": "echo", "v": 1}},
            {"payload": {"op": "raise"}},
            {"payload": {"op": "sleep", "seconds": 30}, "timeout_s": 1},
        ],
    )
    # Enqueue inside the producer's trace (httpx may be instrumented in this process; its
    # client span then continues the same trace).
    token = context.attach(TraceContextTextMapPropagator().extract({"traceparent": traceparent}))
    try:
        (traced,) = enqueue(
            task_service,
            queue,
            [{"payload": {"op": "trace"}}],
            headers={"traceparent": traceparent},
        )
    finally:
        context.detach(token)
    port = free_port()
    process = workers.start(
        queue,
        f"{HANDLERS}:dispatch",
        worker_id="mixed",
        metrics_port=port,
        env={"RECORD_FILE": str(record)},
    )
    wait_for(
        lambda: statuses(task_service, queue) == {"completed": 2, "dead": 2},
        60,
        f"tasks did not finish: {statuses(task_service, queue)}",
    )
    assert task(task_service, echo)["result"] == {"op": "echo", "v": 1}
    assert task(task_service, boom)["last_error"] == "RuntimeError: kaboom"
    assert task(task_service, slow)["last_error"] == "timed out after 1s"
    assert task(task_service, traced)["status"] == "completed"
    assert record.read_text().split() == [trace_id], "the handler span left the enqueue trace"

    assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert f'taskplane_worker_tasks_total{{outcome="completed",queue="{queue}"}} 2.0' in metrics
    assert f'taskplane_worker_tasks_total{{outcome="timed_out",queue="{queue}"}} 1.0' in metrics
    assert process.poll() is None, "a failing handler crashed the worker"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def test_http_handler_posts_the_payload(task_service: TaskService, workers: Workers) -> None:
    received: list[Any] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((body, self.headers["X-Taskplane-Task-Id"]))
            code = 500 if body.get("fail") else 200
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"handled": true}')

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        queue = f"http-{uuid.uuid4().hex[:6]}"
        configure(task_service, queue, max_attempts=1)
        ok, failing = enqueue(
            task_service, queue, [{"payload": {"a": 1}}, {"payload": {"fail": 1}}]
        )
        workers.start(
            queue, f"http://127.0.0.1:{server.server_port}/handle", worker_id="http-worker"
        )
        wait_for(
            lambda: statuses(task_service, queue) == {"completed": 1, "dead": 1},
            60,
            "http tasks did not finish",
        )
        assert task(task_service, ok)["result"] == {"handled": True}
        assert "answered 500" in task(task_service, failing)["last_error"]
        assert ({"a": 1}, ok) in received
    finally:
        server.shutdown()


def _in_progress(service: TaskService, queue: str) -> int:
    return statuses(service, queue).get("in_progress", 0)


def test_sigterm_finishes_in_flight_tasks_and_exits_0(
    task_service: TaskService, workers: Workers, tmp_path: Path
) -> None:
    queue = f"drain-{uuid.uuid4().hex[:6]}"
    configure(task_service, queue, visibility_timeout_s=3)
    record = tmp_path / "done.txt"
    enqueue(task_service, queue, [{"payload": {"n": n, "seconds": 4}} for n in range(10)])
    process = workers.start(
        queue,
        f"{HANDLERS}:slow_unless_fast",
        worker_id="drainer",
        concurrency=10,
        grace_period=60,
        env={"RECORD_FILE": str(record)},
    )
    wait_for(lambda: _in_progress(task_service, queue) == 10, 60, "10 tasks never in flight")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, workers.log("drainer")
    assert statuses(task_service, queue) == {"completed": 10}
    assert sorted(int(n) for n in record.read_text().split()) == list(range(10))


def test_sigterm_past_the_grace_period_releases_tasks_for_another_worker(
    task_service: TaskService, workers: Workers, tmp_path: Path
) -> None:
    queue = f"release-{uuid.uuid4().hex[:6]}"
    configure(task_service, queue, visibility_timeout_s=60)
    record = tmp_path / "done.txt"
    enqueue(task_service, queue, [{"payload": {"n": n, "seconds": 600}} for n in range(10)])
    env = {"RECORD_FILE": str(record)}
    slow = workers.start(
        queue,
        f"{HANDLERS}:slow_unless_fast",
        worker_id="slow",
        concurrency=10,
        grace_period=1,
        env=env,
    )
    wait_for(lambda: _in_progress(task_service, queue) == 10, 60, "10 tasks never in flight")
    slow.send_signal(signal.SIGTERM)
    assert slow.wait(timeout=60) == 0, workers.log("slow")
    # Released, not failed: available at once (no 60 s lease expiry) and no attempt used.
    assert statuses(task_service, queue) == {"pending": 10}
    assert (
        task_service.scalar("SELECT max(attempts) FROM tasks.queue_tasks WHERE queue = %s", queue)
        == 0
    )
    workers.start(
        queue,
        f"{HANDLERS}:slow_unless_fast",
        worker_id="replacement",
        concurrency=10,
        env={**env, "FAST": "1"},
    )
    wait_for(
        lambda: statuses(task_service, queue) == {"completed": 10}, 60, "released tasks not redone"
    )
    assert sorted(int(n) for n in record.read_text().split()) == list(range(10))


def test_sigterm_ends_a_long_poll_in_flight_at_once(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """The lease long-poll is cancelled (its connection closed), not waited out: with a
    five-minute poll allowed by the server, the worker still exits within the bound."""
    db_url = postgres_server.create_database("worker_long_poll")
    upgrade("task_service", db_url)
    service = start_task_service(
        db_url, tmp_path / "server.log", env={"TASKPLANE_MAX_WAIT_S": "300"}
    )
    pool = Workers(service, tmp_path)
    try:
        configure(service, "idle")
        process = pool.start(
            "idle", "builtin:noop", worker_id="poller", wait_s=300, env={"LOG_LEVEL": "INFO"}
        )
        wait_for(lambda: "on queue idle" in pool.log("poller"), 60, "the worker never started")
        time.sleep(1)  # lets the first lease request leave; the test holds either way
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, pool.log("poller")
        assert "drained; exiting" in pool.log("poller")
    finally:
        pool.stop_all()
        service.stop()
