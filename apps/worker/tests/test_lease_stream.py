"""The streaming lease (``/api/v1/queues/{queue}/lease-stream``) against real processes:
its handshake refusals and unreadable messages are problem+json and change nothing (a
refusal logs nothing at ERROR on the service), it carries a task from lease to
completion, and a task-service killed and restarted mid-run loses nothing (the workers
reconnect; every task completes exactly once)."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskplane_client import (
    ApiError,
    AsyncTaskplaneClient,
    Completion,
    ConnectionFailedError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
    ValidationFailedError,
)
from taskplane_client.stream import LeaseStream, stream_url
from taskplane_common.migrations import upgrade
from taskplane_testing import workers as kit
from taskplane_testing.postgres import PostgresServer, free_port
from taskplane_testing.tokens import TokenFactory
from taskplane_testing.workers import TaskService, Workers

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="module")
def secured_service(
    postgres_server: PostgresServer, tokens: TokenFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TaskService]:
    """A task-service that verifies tokens, against a JWKS served from this process."""

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(tokens.document(self.path)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            return

    jwks = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=jwks.serve_forever, daemon=True).start()
    db_url = postgres_server.create_database("lease_stream_auth")
    upgrade("task_service", db_url)
    env = {
        "TASKPLANE_AUTH_DISABLED": "false",
        "TASKPLANE_JWKS_URL": f"http://127.0.0.1:{jwks.server_port}/.well-known/jwks.json",
        "TASKPLANE_STREAM_REAUTHORIZE_S": "1",
    }
    log = tmp_path_factory.mktemp("secured") / "server.log"
    service = kit.start_task_service(db_url, log, env)
    yield service
    service.stop()
    jwks.shutdown()


def _client(service: TaskService, token: str | None) -> AsyncTaskplaneClient:
    return AsyncTaskplaneClient(service.url, token=token)


async def _refusal(service: TaskService, queue: str, worker_id: str, token: str | None) -> Any:
    """The error a stream that may not open raises (with its problem+json answer)."""
    async with _client(service, token) as client:
        url = stream_url(service.url, queue, worker_id)
        with pytest.raises(Exception) as refused:
            await LeaseStream.open(url, await client._authorization(url), user_agent="test")
    return refused.value


def test_handshake_refusals_are_problems(
    secured_service: TaskService, tokens: TokenFactory
) -> None:
    admin = tokens.service_token("queues:admin")
    headers = {"Authorization": f"Bearer {admin}"}
    created = httpx.put(f"{secured_service.url}/api/v1/queues/jobs", json={}, headers=headers)
    assert created.status_code in (200, 201), created.text
    worker = tokens.service_token("queues:work")
    bound_elsewhere = tokens.token(
        "system:serviceaccount:team-a:emails-worker",
        roles=(),
        scopes=("queues:work",),
        token_use="kubernetes",
        taskplane_queue="emails",
    )
    cases: list[tuple[str, str, str | None, type[ApiError], int, str]] = [
        ("jobs", "w1", None, UnauthorizedError, 401, "unauthenticated"),
        ("jobs", "w1", tokens.token(roles=("member",)), ForbiddenError, 403, "forbidden"),
        ("jobs", "w1", bound_elsewhere, ForbiddenError, 403, "queue-forbidden"),
        ("-jobs", "w1", worker, ValidationFailedError, 422, "validation-error"),
        ("jobs", "", worker, ValidationFailedError, 422, "validation-error"),
        ("missing", "w1", worker, NotFoundError, 404, "queue-not-found"),
    ]
    logged_before = len(secured_service.log.read_bytes())
    for queue, worker_id, token, kind, status, slug in cases:
        error = asyncio.run(_refusal(secured_service, queue, worker_id, token))
        assert isinstance(error, kind), (queue, worker_id, error)
        assert (error.status, error.problem_type.split("/")[-1]) == (status, slug)
    assert kit.statuses(secured_service, "jobs") == {}
    # A refusal is an answer, not a server error: nothing at ERROR (uvicorn's default
    # protocol would log one per refusal; taskplane_common.websocket_protocol).
    logged = secured_service.log.read_bytes()[logged_before:].decode(errors="replace")
    assert _errors(logged) == [], logged


def _errors(log: str) -> list[str]:
    """The lines of a service's JSON log at ERROR or above, and any line that is not
    JSON (a traceback or a message printed past the logging configuration)."""
    found = []
    for line in filter(None, log.splitlines()):
        try:
            level = json.loads(line).get("level")
        except ValueError:
            found.append(line)
            continue
        if level in ("ERROR", "CRITICAL"):
            found.append(line)
    return found


async def _round_trip(service: TaskService, token: str, task_id: str) -> None:
    async with _client(service, token) as client:
        stream = await client.lease_stream("jobs", "stream-w1")
        try:
            # Unreadable messages: a 422 problem each, the stream stays open.
            for message in ({"op": "complete", "items": []}, {"op": "credit", "total": -1}):
                with pytest.raises(ValidationFailedError) as refused:
                    await stream.ask(message)
                assert refused.value.problem_type.endswith("validation-error")
                assert refused.value.errors, "the problem lists what was wrong"
            await stream.connection.send(b"not json")
            await stream.want(5)
            (leased,) = await asyncio.wait_for(stream.tasks(), 60)
            assert str(leased.id) == task_id
            alive = await stream.heartbeat_many([leased.lease_id, uuid.uuid4()])
            assert alive == {leased.lease_id}
            done = await stream.complete_many([Completion(lease_id=leased.lease_id, result=1)])
            assert done == {leased.lease_id}
            again = await stream.complete_many([Completion(lease_id=leased.lease_id, result=2)])
            assert again == set(), "a lease completes once"
            assert await stream.drain() == []
        finally:
            await stream.aclose()


def test_stream_leases_and_completes_and_refuses_bad_messages(
    secured_service: TaskService, tokens: TokenFactory
) -> None:
    worker = tokens.service_token("queues:work", "events:read")
    headers = {"Authorization": f"Bearer {worker}"}
    (task_id,) = kit.enqueue(secured_service, "jobs", [{"payload": {"x": 1}}], headers=headers)
    asyncio.run(_round_trip(secured_service, worker, task_id))
    with secured_service.db() as db:
        row = db.execute(
            "SELECT status, result, attempts FROM tasks.queue_tasks WHERE id = %s", (task_id,)
        ).fetchone()
    assert row == ("completed", 1, 1)
    log = secured_service.log.read_text()
    assert "Traceback" not in log, log


async def _outlived(service: TaskService, token: str) -> int | None:
    """The close code of a stream whose token expires while it is open."""
    async with _client(service, token) as client:
        stream = await client.lease_stream("jobs", "short-lived")
        try:
            await stream.want(1)
            with pytest.raises(ConnectionFailedError):
                await asyncio.wait_for(stream.tasks(), 60)
            return stream.connection.close_code
        finally:
            await stream.aclose()


def test_a_stream_ends_when_its_token_expires(
    secured_service: TaskService, tokens: TokenFactory
) -> None:
    """A stream outlives no token: past its expiry (and the verifier's 30 s leeway) the
    service closes it with 4401 and the worker has to reconnect with a fresh one."""
    now = int(time.time())
    expiring = tokens.token(
        f"service:{uuid.uuid4()}",
        roles=(),
        scopes=("queues:work",),
        token_use="service",
        iat=now - 100,
        nbf=now - 100,
        exp=now - 27,  # still inside the leeway for a few seconds
    )
    assert asyncio.run(_outlived(secured_service, expiring)) == 4401


def test_service_restart_mid_stream_loses_nothing(
    postgres_server: PostgresServer, workers: Workers, tmp_path: Path
) -> None:
    db_url = postgres_server.create_database("lease_stream_restart")
    upgrade("task_service", db_url)
    port = free_port()
    service = kit.start_task_service(db_url, tmp_path / "first.log", port=port)
    workers.service = service
    queue = "restarts"
    kit.configure(service, queue, visibility_timeout_s=5, max_attempts=50, backoff_base_s=0.1)
    total = 600
    kit.enqueue(service, queue, [{"payload": {"n": n, "sleep": 0.05}} for n in range(total)])
    record = tmp_path / "ran.txt"
    processes = [
        workers.start(
            queue, f"{kit.HANDLERS}:record", worker_id=f"r{i}", env={"RECORD_FILE": str(record)}
        )
        for i in range(2)
    ]

    def completed() -> int:
        return int(
            service.scalar("SELECT count(*) FROM tasks.queue_tasks WHERE status = 'completed'")
        )

    kit.wait_for(lambda: completed() >= total // 4, 120, "the workers never got going")
    service.process.send_signal(signal.SIGKILL)  # mid-stream, mid-batch
    service.process.wait(timeout=10)
    assert completed() < total, "the run ended before the service was killed"
    service = kit.start_task_service(db_url, tmp_path / "second.log", port=port)
    kit.wait_for(lambda: completed() == total, 180, "tasks were lost across the restart")
    for process in processes:
        process.send_signal(signal.SIGTERM)
    assert [process.wait(timeout=60) for process in processes] == [0, 0]
    service.stop()
    assert kit.statuses(service, queue) == {"completed": total}
    events = service.completions(queue)
    assert len(events) == total, "a task never completed"
    assert set(events.values()) == {1}, "a task completed twice"
    ran = Counter(int(n) for n in record.read_text().split())
    assert set(ran) == set(range(total)), "a task never ran"
    logs = workers.log("r0") + workers.log("r1")
    assert "Traceback" not in logs, logs


def test_a_killed_streaming_worker_strands_nothing(
    task_service: TaskService, workers: Workers
) -> None:
    """A worker SIGKILLed while its stream waits: the service drops its credit, so a task
    enqueued afterwards is not dealt to the dead socket (where it would sit in flight
    for the 300 s visibility timeout) but leased by the next worker at once."""
    queue = f"stranded-{uuid.uuid4().hex[:6]}"
    kit.configure(task_service, queue, visibility_timeout_s=300)
    worker = workers.start(queue, "builtin:noop", worker_id="doomed", concurrency=1)
    (first,) = kit.enqueue(task_service, queue, [{"payload": {"n": 1}}])
    kit.wait_for(
        lambda: kit.statuses(task_service, queue) == {"completed": 1}, 60, "the first never ran"
    )
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    (second,) = kit.enqueue(task_service, queue, [{"payload": {"n": 2}}])
    fresh = httpx.post(
        f"{task_service.url}/api/v1/queues/{queue}/leases",
        json={"worker_id": "fresh", "max_tasks": 1, "wait_s": 20},
        timeout=30,
    ).json()
    assert [(t["id"], t["attempt"]) for t in fresh["tasks"]] == [(second, 1)]
    assert first != second
