"""/metrics, /healthz, /docs and the OpenAPI document."""

from __future__ import annotations

import re
import uuid

import httpx
from opentelemetry.trace import SpanKind

from taskplane_testing.spans import captured_spans


async def test_metrics_use_route_templates(client: httpx.AsyncClient) -> None:
    created = (await client.post("/api/v1/tasks", json={"title": "m"})).json()
    await client.get(f"/api/v1/tasks/{created['id']}")
    await client.get(f"/api/v1/tasks/{uuid.uuid4()}")
    await client.get("/no/such/path")

    text = (await client.get("/metrics")).text
    assert re.search(
        r'http_requests_total\{method="GET",route="/api/v1/tasks/\{task_id\}",'
        r'service="task-service",status="200"\} [1-9]',
        text,
    ), text
    assert 'route="/api/v1/tasks/{task_id}",service="task-service",status="404"' in text
    assert 'route="<unmatched>"' in text
    assert "http_request_duration_seconds_bucket" in text
    assert created["id"] not in text, "raw paths must never become label values"


async def test_health_and_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True}
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert {"/api/v1/tasks", "/api/v1/tasks/{task_id}", "/api/v1/tasks/stats"} <= set(spec["paths"])


async def test_requests_and_sql_statements_become_spans(client: httpx.AsyncClient) -> None:
    with captured_spans() as spans:
        response = await client.post("/api/v1/tasks", json={"title": "traced"})
        assert response.status_code == 201
    server = [s for s in spans if s.kind == SpanKind.SERVER]
    sql = [s for s in spans if s.attributes and "db.statement" in s.attributes]
    assert server, "the request has a server span"
    assert any("INSERT INTO tasks.tasks" in str(s.attributes["db.statement"]) for s in sql)
    trace_ids = {s.context.trace_id for s in server + sql}
    assert len(trace_ids) == 1, "SQL spans are children of the request's trace"
