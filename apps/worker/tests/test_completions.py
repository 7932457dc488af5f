"""Completions that finish together share one batch request; a server without the batch
endpoint gets one request per task; a lost lease is reported for its task only."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from taskplane_client import LeasedTask, ValidationFailedError
from taskplane_worker.handlers import resolve
from taskplane_worker.runtime import LeaseLostError, Worker, WorkerConfig

Json = dict[str, Any]


def make_worker(handler: Any) -> tuple[Worker, list[tuple[str, Json]]]:
    requests: list[tuple[str, Json]] = []

    def respond(request: httpx.Request) -> httpx.Response:
        body: Json = json.loads(request.content or b"{}")
        requests.append((request.url.path, body))
        return handler(request.url.path, body)

    worker = Worker(
        WorkerConfig(
            api_url="http://task-service",
            token=None,
            queue="q",
            concurrency=4,
            worker_id="w1",
            grace_period_s=1,
            report_retry_s=1,
        ),
        resolve("builtin:noop"),
        transport=httpx.MockTransport(respond),
    )
    return worker, requests


#: Lease ids by name, so tests read "a", "b", "lost" while the API sees UUIDs.
LEASES = {name: uuid.uuid5(uuid.NAMESPACE_URL, name) for name in ("a", "b", "c", "d", "lost")}
NAMES = {str(lease): name for name, lease in LEASES.items()}


def task(name: str) -> LeasedTask:
    now = datetime.now(UTC)
    return LeasedTask(
        id=uuid.uuid4(),
        queue="q",
        title="t",
        payload={},
        priority="medium",
        attempt=1,
        max_attempts=3,
        timeout_s=None,
        lease_id=LEASES[name],
        lease_expires_at=now,
        traceparent=None,
        created_at=now,
    )


def named(path: str) -> str:
    """The request path with lease ids shown by name."""
    for lease, name in NAMES.items():
        path = path.replace(lease, name)
    return path


async def test_completions_finishing_together_share_one_request() -> None:
    def handler(path: str, body: Json) -> httpx.Response:
        assert path == "/api/v1/leases/complete"
        assert body["worker_id"] == "w1"
        items = [
            {"lease_id": item["lease_id"], "completed": NAMES[item["lease_id"]] != "lost"}
            for item in body["items"]
        ]
        return httpx.Response(200, json={"items": items})

    worker, requests = make_worker(handler)
    outcomes = await asyncio.gather(
        *(worker._complete(task(lease), {"r": lease}) for lease in ("a", "b", "lost", "c")),
        return_exceptions=True,
    )
    assert outcomes[:2] == [None, None]
    assert outcomes[3] is None
    assert isinstance(outcomes[2], LeaseLostError)
    assert len(requests) == 1
    assert [(NAMES[item["lease_id"]], item["result"]) for item in requests[0][1]["items"]] == [
        ("a", {"r": "a"}),
        ("b", {"r": "b"}),
        ("lost", {"r": "lost"}),
        ("c", {"r": "c"}),
    ]
    # A lone completion goes at once, in a request of its own.
    await worker._complete(task("d"), None)
    assert [len(body["items"]) for _, body in requests] == [4, 1]
    await worker.client.aclose()


async def test_an_older_server_gets_one_complete_per_task() -> None:
    def handler(path: str, body: Json) -> httpx.Response:
        if path == "/api/v1/leases/complete":
            return httpx.Response(404, json={"detail": "Not Found"})
        if named(path) == "/api/v1/leases/lost/complete":
            return httpx.Response(409, json={"detail": "lease lost"})
        lease_id = path.split("/")[-2]
        answer = {"id": str(uuid.uuid4()), "status": "completed", "attempts": 1, "run_at": None}
        return httpx.Response(200, json={**answer, "lease_id": lease_id})

    worker, requests = make_worker(handler)
    outcomes = await asyncio.gather(
        *(worker._complete(task(lease), 1) for lease in ("a", "lost")), return_exceptions=True
    )
    assert outcomes[0] is None
    assert isinstance(outcomes[1], LeaseLostError)
    await worker._complete(task("b"), 2)
    paths = [named(path) for path, _ in requests]
    assert paths[0] == "/api/v1/leases/complete"
    assert sorted(paths[1:3]) == ["/api/v1/leases/a/complete", "/api/v1/leases/lost/complete"]
    assert paths[3:] == ["/api/v1/leases/b/complete"], "the batch endpoint is not retried"
    assert requests[3][1] == {"worker_id": "w1", "result": 2}
    await worker.client.aclose()


async def test_a_batch_that_cannot_be_sent_fails_every_waiter() -> None:
    def handler(path: str, body: Json) -> httpx.Response:
        return httpx.Response(422, json={"detail": "bad"})

    worker, _ = make_worker(handler)
    with pytest.raises(ValidationFailedError):
        await worker._complete(task("a"), None)
    await worker.client.aclose()
