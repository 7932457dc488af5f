"""The worker's batching against a scripted task-service: finished tasks share one
complete request, an outage keeps them buffered (no slot held) until it ends, a refused
batch is dropped, and one heartbeat request covers every lease, stopping the lost ones."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from prometheus_client import REGISTRY

from taskplane_client import LeasedTask
from taskplane_worker.handlers import TaskInfo
from taskplane_worker.runtime import Held, Worker, WorkerConfig

Json = dict[str, Any]
Responder = Callable[[str, Json], httpx.Response]


def make_worker(respond: Responder, handler: Any = None) -> tuple[Worker, list[tuple[str, Json]]]:
    requests: list[tuple[str, Json]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body: Json = json.loads(request.content or b"{}")
        requests.append((request.url.path, body))
        return respond(request.url.path, body)

    async def noop(_: TaskInfo) -> None:
        return None

    worker = Worker(
        WorkerConfig(
            api_url="http://task-service",
            token=None,
            queue="q",
            concurrency=4,
            worker_id="w1",
            grace_period_s=1,
            report_retry_s=30,
            stream=False,  # the HTTP channel's batching, against a scripted service
        ),
        handler or noop,
        transport=httpx.MockTransport(answer),
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


def hold(worker: Worker, name: str) -> Held:
    held = Held(task(name))
    worker.held[held.task.lease_id] = held
    return held


def outcomes(outcome: str) -> float:
    labels = {"queue": "q", "outcome": outcome}
    return REGISTRY.get_sample_value("taskplane_worker_tasks_total", labels) or 0.0


def completing(path: str, body: Json) -> httpx.Response:
    assert path == "/api/v1/leases/complete"
    assert body["worker_id"] == "w1"
    items = [
        {"lease_id": item["lease_id"], "completed": NAMES[item["lease_id"]] != "lost"}
        for item in body["items"]
    ]
    return httpx.Response(200, json={"items": items})


async def test_completions_finishing_together_share_one_request() -> None:
    worker, requests = make_worker(completing)
    completed, lost = outcomes("completed"), outcomes("lost")
    for name in ("a", "b", "lost", "c"):
        worker._buffer(hold(worker, name), {"r": name})
    await worker._flush()
    assert len(requests) == 1
    assert [(NAMES[item["lease_id"]], item["result"]) for item in requests[0][1]["items"]] == [
        ("a", {"r": "a"}),
        ("b", {"r": "b"}),
        ("lost", {"r": "lost"}),
        ("c", {"r": "c"}),
    ]
    assert worker.buffer == []
    assert worker.held == {}, "every answered lease is let go"
    assert (outcomes("completed") - completed, outcomes("lost") - lost) == (3, 1)
    await worker.client.aclose()


async def test_an_outage_keeps_completions_buffered_until_it_ends() -> None:
    down = True

    def respond(path: str, body: Json) -> httpx.Response:
        if down:
            return httpx.Response(503, json={"detail": "database unavailable"})
        return completing(path, body)

    worker, requests = make_worker(respond)
    worker._buffer(hold(worker, "a"), 1)
    await worker._flush()
    assert [entry.held.task.lease_id for entry in worker.buffer] == [LEASES["a"]]
    assert LEASES["a"] in worker.held, "a buffered lease stays held (and heartbeated)"
    down = False
    worker._buffer(hold(worker, "b"), 2)
    await worker._flush()
    assert [NAMES[item["lease_id"]] for item in requests[-1][1]["items"]] == ["a", "b"]
    assert worker.buffer == []
    assert worker.held == {}
    await worker.client.aclose()


async def test_a_refused_batch_is_dropped_and_counted_lost() -> None:
    worker, _ = make_worker(lambda path, body: httpx.Response(422, json={"detail": "bad"}))
    lost = outcomes("lost")
    worker._buffer(hold(worker, "a"), None)
    await worker._flush()
    assert worker.buffer == []
    assert worker.held == {}
    assert outcomes("lost") - lost == 1
    await worker.client.aclose()


async def test_one_heartbeat_covers_every_lease_and_stops_a_lost_one() -> None:
    def respond(path: str, body: Json) -> httpx.Response:
        if path != "/api/v1/leases/heartbeat":  # the releases at the end
            return httpx.Response(409, json={"detail": "lease unknown"})
        now = datetime.now(UTC).isoformat()
        alive = [lease for lease in body["lease_ids"] if NAMES[lease] != "lost"]
        return httpx.Response(
            200, json={"items": [{"lease_id": lease, "lease_expires_at": now} for lease in alive]}
        )

    async def forever(_: TaskInfo) -> None:
        await asyncio.sleep(3600)

    worker, requests = make_worker(respond, forever)
    running = {name: hold(worker, name) for name in ("a", "b", "lost")}
    for held in running.values():
        worker._start(held)
    worker._beat_s = 0.01
    beats = asyncio.create_task(worker._heartbeat_loop())
    lost_runner = running["lost"].runner
    assert lost_runner is not None
    await asyncio.wait_for(asyncio.shield(lost_runner), 30)
    beats.cancel()
    assert sorted(NAMES[lease] for lease in requests[0][1]["lease_ids"]) == ["a", "b", "lost"]
    assert set(worker.held) == {LEASES["a"], LEASES["b"]}
    for held in (running["a"], running["b"]):
        assert held.runner is not None
        assert not held.runner.done(), "a live lease's task keeps running"
        held.runner.cancel()
    await asyncio.gather(beats, *worker.inflight, return_exceptions=True)
    await worker.client.aclose()
