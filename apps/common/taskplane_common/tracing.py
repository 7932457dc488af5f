"""OpenTelemetry set-up: W3C context propagation always, OTLP export when configured."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

_EXCLUDED_URLS = "healthz,readyz,metrics"


def configure_tracer_provider(service_name: str, otlp_endpoint: str | None) -> None:
    """Install a tracer provider once per process.

    Spans are always created so that trace ids reach logs and travel with queued tasks;
    they leave the process only when an OTLP endpoint is configured.
    """
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    if otlp_endpoint:
        endpoint = otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        log.info("exporting traces over OTLP/HTTP to %s", endpoint)
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument()


def instrument_app(app: FastAPI, engine: AsyncEngine | None) -> None:
    """Server spans for every request and client spans for every SQL statement."""
    FastAPIInstrumentor.instrument_app(app, excluded_urls=_EXCLUDED_URLS)
    if engine is not None:
        trace_sql(engine)


def trace_sql(engine: AsyncEngine) -> None:
    """Client spans for every statement on ``engine``.

    ``SQLAlchemyInstrumentor().instrument()`` works once per process (and declares
    SQLAlchemy < 2.1, so it would silently skip 2.1); attaching its ``EngineTracer`` per
    engine gives every app's engine its spans, which the task-service tests check.
    """
    usage = metrics.get_meter(__name__).create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(trace.get_tracer(__name__), engine.sync_engine, usage)  # type: ignore[no-untyped-call]
