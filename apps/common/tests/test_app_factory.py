"""The shared app factory: problem+json errors, body limits, metrics and JSON logs."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from opentelemetry import trace
from pydantic import BaseModel, ValidationError

from taskplane_common.app import create_app
from taskplane_common.errors import ProblemError
from taskplane_common.logging import TraceContextFilter
from taskplane_common.settings import ServiceSettings
from taskplane_testing.http import asgi_client, assert_problem

router = APIRouter(prefix="/api/v1")


class Echo(BaseModel):
    text: str


@router.post("/echo")
async def echo(body: Echo) -> Echo:
    return body


@router.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    if item_id == 0:
        raise ProblemError(409, "item 0 is reserved", slug="reserved")
    if item_id == 13:
        raise RuntimeError("secret internal detail at db.internal:5432")
    return {"id": item_id}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    settings = ServiceSettings(
        OTEL_SERVICE_NAME="demo", auth_disabled=True, max_request_body_bytes=2048
    )
    return create_app(settings=settings, title="demo", version="0", routers=[router], database=None)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, "http://demo") as c:
        yield c


async def test_problem_error_carries_type_and_instance(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await client.get("/api/v1/items/0"), 409)
    assert problem["type"].endswith("/reserved")
    assert problem["instance"] == "/api/v1/items/0"
    assert problem["detail"] == "item 0 is reserved"


async def test_unexpected_errors_are_generic_500s(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/items/13")
    problem = assert_problem(response, 500)
    assert "db.internal" not in response.text
    assert problem["detail"] == "an unexpected error occurred"


async def test_validation_errors_list_fields_without_echoing_input(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/v1/echo", json={"text": 12345678})
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"] == ["body", "text"]
    assert "12345678" not in response.text


async def test_body_limit_with_and_without_content_length(client: httpx.AsyncClient) -> None:
    big = json.dumps({"text": "x" * 5000}).encode()
    assert_problem(await client.post("/api/v1/echo", content=big), 413)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 512):
            yield big[start : start + 512]

    chunked = await client.post(
        "/api/v1/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(chunked, 413)
    small = await client.post("/api/v1/echo", json={"text": "ok"})
    assert small.json() == {"text": "ok"}


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nope"), 404)
    assert_problem(await client.delete("/api/v1/echo"), 405)


async def test_health_without_database(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {}


async def test_metrics_label_by_template(client: httpx.AsyncClient) -> None:
    for item_id in (1, 2, 3):
        await client.get(f"/api/v1/items/{item_id}")
    text = (await client.get("/metrics")).text
    line = next(
        row
        for row in text.splitlines()
        if row.startswith("http_requests_total{")
        and 'route="/api/v1/items/{item_id}"' in row
        and 'service="demo"' in row
        and 'status="200"' in row
    )
    assert float(line.rsplit(" ", 1)[1]) >= 3
    assert 'route="/api/v1/items/1"' not in text


def test_log_lines_are_json_with_trace_ids(capsys: pytest.CaptureFixture[str]) -> None:
    from taskplane_common.logging import configure_logging

    configure_logging("demo", "INFO")
    logger = logging.getLogger("demo.test")
    with trace.get_tracer("test").start_as_current_span("unit") as span:
        logger.info("inside a span", extra={"task_id": "t-1"})
        expected_trace = format(span.get_span_context().trace_id, "032x")
    logger.info("outside")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    inside: dict[str, Any] = next(line for line in lines if line["message"] == "inside a span")
    assert inside["trace_id"] == expected_trace
    assert len(inside["span_id"]) == 16
    assert inside["service"] == "demo"
    assert inside["task_id"] == "t-1"
    outside = next(line for line in lines if line["message"] == "outside")
    assert outside["trace_id"] == ""


def test_console_log_lines_are_for_people_and_request_loggers_stay_quiet(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from taskplane_common.logging import configure_logging

    configure_logging("demo", "INFO", "console")
    with trace.get_tracer("test").start_as_current_span("unit") as span:
        logging.getLogger("demo.test").info("inside a span")
        expected_trace = format(span.get_span_context().trace_id, "032x")
    logging.getLogger("httpx").info("HTTP Request: GET http://example.test/ 200")
    out = capsys.readouterr().out
    assert f"INFO    demo.test: inside a span  trace_id={expected_trace}" in out
    assert "HTTP Request" not in out
    assert not out.lstrip().startswith("{")


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValidationError, match="log_format"):
        ServiceSettings(log_format="xml")  # type: ignore[arg-type]


def test_trace_filter_adds_fields() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    assert TraceContextFilter("svc").filter(record)
    assert record.service == "svc"
    assert record.trace_id == ""
