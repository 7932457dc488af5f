"""OpenTelemetry set-up: W3C context propagation always, OTLP export when configured.

The tracer provider is installed by the client package's ``configure_tracer_provider``
(shared with the worker and the operator); services add SQL spans here and server
spans in :class:`taskplane_common.middleware.RequestMiddleware`.
"""

from __future__ import annotations

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from sqlalchemy.ext.asyncio import AsyncEngine

from taskplane_client.observability import configure_tracer_provider

__all__ = ["configure_tracer_provider", "trace_sql"]


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
