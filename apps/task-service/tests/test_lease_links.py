"""A lease's span is in the lease request's trace and links to each leased task's
producer trace (OpenTelemetry messaging conventions for a batch receive)."""

from __future__ import annotations

import uuid

import httpx
from opentelemetry.trace import SpanKind

from taskplane_testing.spans import captured_spans


async def test_a_batch_lease_span_links_every_task_to_its_producer_trace(
    client: httpx.AsyncClient,
) -> None:
    queue = f"links-{uuid.uuid4().hex[:8]}"
    producers = {uuid.uuid4().hex: uuid.uuid4().hex[:16] for _ in range(3)}
    for trace_id, span_id in producers.items():
        response = await client.post(
            f"/api/v1/queues/{queue}/tasks",
            json={"payload": {"trace": trace_id}},
            headers={"traceparent": f"00-{trace_id}-{span_id}-01"},
        )
        assert response.status_code == 201, response.text
    with captured_spans() as spans:
        response = await client.post(
            f"/api/v1/queues/{queue}/leases",
            json={"worker_id": "w", "max_tasks": 10, "wait_s": 0},
        )
        assert response.status_code == 200, response.text
    assert len(response.json()["tasks"]) == 3
    (receive,) = [s for s in spans if s.name == f"receive {queue}"]
    (server,) = [s for s in spans if s.kind == SpanKind.SERVER]
    assert receive.context.trace_id == server.context.trace_id, "in the lease's own trace"
    assert receive.parent is not None
    assert receive.parent.span_id == server.context.span_id
    assert receive.attributes is not None
    assert receive.attributes["messaging.batch.message_count"] == 3
    assert receive.attributes["messaging.operation.type"] == "receive"
    linked = {f"{link.context.trace_id:032x}" for link in receive.links}
    assert linked == set(producers), "one link per leased task, to its producer's trace"
    task_ids = {str(task["id"]) for task in response.json()["tasks"]}
    assert {(link.attributes or {}).get("messaging.message.id") for link in receive.links} == (
        task_ids
    )
