"""The task-service's audit log: queue configuration and retention changes, queue
deletion and dead-letter retries, each with its actor and trace id, in the same
transaction as the change (a refused change leaves no entry)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from taskplane_common.principals import DEV_PRINCIPAL
from taskplane_testing.http import assert_problem

Q = "audited"


def _traced() -> tuple[str, dict[str, str]]:
    trace_id = uuid.uuid4().hex
    return trace_id, {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}


async def _dead_task(client: httpx.AsyncClient) -> str:
    """A task failed once on a queue allowing one attempt: dead."""
    task = (await client.post(f"/api/v1/queues/{Q}/tasks", json={"payload": {}})).json()
    leased = await client.post(
        f"/api/v1/queues/{Q}/leases", json={"worker_id": "w1", "max_tasks": 1, "wait_s": 0}
    )
    (held,) = leased.json()["tasks"]
    failed = await client.post(f"/api/v1/leases/{held['lease_id']}/fail", json={"error": "e"})
    assert failed.json()["status"] == "dead", failed.text
    task_id: str = task["id"]
    return task_id


async def test_queue_changes_and_dead_letter_actions_are_audited(
    client: httpx.AsyncClient,
) -> None:
    expected: dict[str, tuple[str, dict[str, Any]]] = {}
    trace, headers = _traced()
    config = {"max_attempts": 1, "dead_retention_s": 3600}
    created = await client.put(f"/api/v1/queues/{Q}", json=config, headers=headers)
    assert created.status_code == 201, created.text
    expected[trace] = ("queue.put", {"created": True})

    trace, headers = _traced()
    retention = {**config, "completed_retention_s": 60}
    assert (await client.put(f"/api/v1/queues/{Q}", json=retention, headers=headers)).is_success
    expected[trace] = ("queue.put", {"created": False})

    task_id = await _dead_task(client)
    trace, headers = _traced()
    retried = await client.post(f"/api/v1/queues/{Q}/dead/{task_id}/retry", headers=headers)
    assert retried.status_code == 200, retried.text
    expected[trace] = ("dead_letter.retry", {"task_ids": [task_id]})
    trace, headers = _traced()
    missing = await client.post(f"/api/v1/queues/{Q}/dead/{uuid.uuid4()}/retry", headers=headers)
    assert_problem(missing, 404)
    refused_trace = trace

    trace, headers = _traced()
    deleted = await client.delete(f"/api/v1/queues/{Q}?force=true", headers=headers)
    assert deleted.status_code == 204, deleted.text
    expected[trace] = ("queue.delete", {"force": True, "tasks_deleted": 1})

    page = (await client.get("/api/v1/audit", params={"target": f"queue:{Q}"})).json()
    by_trace = {entry["trace_id"]: entry for entry in page["items"]}
    assert set(by_trace) == set(expected), "one entry per change, none for the refused retry"
    assert refused_trace not in by_trace
    for trace, (action, details) in expected.items():
        entry = by_trace[trace]
        assert entry["action"] == action
        assert entry["actor"] == DEV_PRINCIPAL.subject
        assert entry["actor_name"] == DEV_PRINCIPAL.email
        assert entry["outcome"] == "success"
        assert entry["service"] == "task-service"
        assert details.items() <= entry["details"].items()
    changed = [e for e in page["items"] if e["action"] == "queue.put"]
    assert changed[0]["details"]["config"]["completed_retention_s"] == 60  # newest first
    assert changed[1]["details"]["config"]["dead_retention_s"] == 3600

    for method in ("DELETE", "PATCH", "PUT"):
        assert (await client.request(method, "/api/v1/audit")).status_code == 405
