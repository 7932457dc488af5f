"""OpenTelemetry set-up: W3C context propagation always, OTLP export when configured.

The tracer provider is installed by the client package's ``configure_tracer_provider``
(shared with the worker and the operator); services add server and SQL spans.
"""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from sqlalchemy.ext.asyncio import AsyncEngine

from taskplane_client.observability import configure_tracer_provider

__all__ = ["configure_tracer_provider", "instrument_app", "trace_sql"]

_EXCLUDED_URLS = "healthz,readyz,metrics"


def instrument_app(app: FastAPI, engine: AsyncEngine | None) -> None:
    """Server spans for every request and client spans for every SQL statement.

    The ASGI instrumentation's internal ``http send``/``http receive`` spans (two or three
    per request, timing one socket write each) are left out: they cost ~5% of a small
    request's CPU under py-spy and tell nothing the server span does not.
    """
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=_EXCLUDED_URLS, exclude_spans=["receive", "send"]
    )
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
