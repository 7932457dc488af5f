"""A task-service killed (SIGKILL) in the middle of a call: the client retries with
growing waits, then gives up with one clear error naming the server."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import httpx
import pytest

from taskplane_client import ConnectionFailedError, QueueConfig, RetryPolicy, TaskplaneClient
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import ServiceProcess, wait_until


class SignallingTransport(httpx.HTTPTransport):
    """Sets ``sent`` when a request goes out, so the test kills the server mid-call."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.set()
        return super().handle_request(request)


def _lease_in_progress(url: str) -> bool:
    """The service is handling a POST (the long-polling lease), by its own gauge."""
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    return any(
        line.startswith("http_requests_in_progress{")
        and 'method="POST"' in line
        and float(line.rsplit(" ", 1)[1]) >= 1
        for line in metrics.splitlines()
    )


@pytest.fixture
def task_service(postgres_server: PostgresServer) -> Iterator[ServiceProcess]:
    service = ServiceProcess(
        "task_service",
        {
            "DATABASE_URL": postgres_server.create_database("client_outage"),
            "TASKPLANE_AUTH_DISABLED": "true",
            "TASKPLANE_LOG_LEVEL": "WARNING",
        },
    )
    with service:
        yield service


def test_killed_mid_long_poll_retries_with_backoff_then_fails_clearly(
    task_service: ServiceProcess,
) -> None:
    retries: list[tuple[str, BaseException, float]] = []
    policy = RetryPolicy(
        attempts=5,
        deadline_s=None,
        backoff_base_s=0.1,
        on_retry=lambda name, exc, wait: retries.append((name, exc, wait)),
    )
    transport = SignallingTransport()
    outcome: list[BaseException] = []
    with TaskplaneClient(task_service.url, retry=policy, transport=transport) as client:
        client.put_queue("outage", QueueConfig())
        transport.sent.clear()

        def long_poll() -> None:
            try:
                client.lease("outage", "w", wait_s=25)
            except BaseException as exc:
                outcome.append(exc)

        caller = threading.Thread(target=long_poll)
        caller.start()
        assert transport.sent.wait(30), "the lease request never left"
        # Gone from the client is not yet at the server: on a busy machine the kill could
        # come first, and the first attempt would be refused rather than broken. Wait
        # until the service counts the lease in progress.
        wait_until(lambda: _lease_in_progress(task_service.url), "the lease at the server")
        assert task_service.process is not None
        task_service.process.send_signal(signal.SIGKILL)
        task_service.process.wait(timeout=30)
        caller.join(timeout=120)
        assert not caller.is_alive()

    # The broken connection first, then refused connections, each retried.
    assert [name for name, _, _ in retries] == ["lease"] * 4
    first, *later = [exc for _, exc, _ in retries]
    assert isinstance(first, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError), repr(
        first
    )
    assert all(isinstance(exc, httpx.ConnectError) for exc in later)
    waits = [wait for _, _, wait in retries]
    assert waits == sorted(waits), f"no backoff: {waits}"
    assert waits[0] < waits[-1], f"no backoff: {waits}"

    (error,) = outcome
    assert isinstance(error, ConnectionFailedError)
    assert error.url == task_service.url
    assert error.attempts == 5
    assert str(error).startswith(f"cannot reach {task_service.url} after 5 attempts: ")
