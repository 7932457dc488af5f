"""Prometheus HTTP metrics labelled by route template, never by raw path.

A raw path label (``/tasks/3f2a...``) would create one time series per task id and
eventually take Prometheus down, so unmatched requests share the label ``<unmatched>``.
"""

from __future__ import annotations

from opentelemetry import trace
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.openmetrics import exposition as openmetrics
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests handled, by route template and status code.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency from first byte received to response start, by route template.",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
HTTP_IN_PROGRESS = Gauge(
    "http_requests_in_progress",
    "HTTP requests being handled right now.",
    ["service", "method"],
)
DB_POOL_IN_USE = Gauge(
    "taskplane_db_pool_connections_in_use",
    "Database connections checked out of the pool now.",
    ["service"],
)
DB_POOL_MAX = Gauge(
    "taskplane_db_pool_connections_max",
    "Most connections the pool hands out (pool size plus overflow).",
    ["service"],
)
DB_POOL_EXHAUSTED = Counter(
    "taskplane_db_pool_exhausted_total",
    "Requests answered 503 database-busy: no pooled connection came free within the pool timeout.",
    ["service"],
)
DB_STATEMENT_LATENCY = Histogram(
    "taskplane_db_statement_duration_seconds",
    "Time from sending a SQL statement to its result, failed statements included.",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
UNMATCHED_ROUTE = "<unmatched>"


def route_template(scope: Scope) -> str:
    """The template of the route that handled the request (``/api/v1/tasks/{task_id}``)."""
    route = scope.get("route")
    path_format = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path_format if isinstance(path_format, str) else UNMATCHED_ROUTE


def trace_exemplar(span: trace.Span) -> dict[str, str] | None:
    """``span``'s trace id as an exemplar when it is sampled: a slow bucket in Grafana
    links to the trace that landed there."""
    context = span.get_span_context()
    if not (context.is_valid and context.trace_flags.sampled):
        return None
    return {"trace_id": trace.format_trace_id(context.trace_id)}


async def metrics_endpoint(request: Request) -> Response:
    """This process's registry, in OpenMetrics (which carries exemplars) when the scraper
    asks for it, else in the Prometheus text format."""
    if "application/openmetrics-text" in request.headers.get("accept", ""):
        return Response(
            openmetrics.generate_latest(REGISTRY),  # type: ignore[no-untyped-call]
            media_type=openmetrics.CONTENT_TYPE_LATEST,
        )
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
