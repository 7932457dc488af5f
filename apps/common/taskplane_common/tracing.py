"""OpenTelemetry set-up: W3C context propagation always, OTLP export when configured.

The tracer provider is installed by the client package's ``configure_tracer_provider``
(shared with the worker and the operator); services add server spans
(:class:`taskplane_common.middleware.RequestMiddleware`) and, at the psycopg driver, SQL
spans.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.trace import Span

from taskplane_client.observability import configure_tracer_provider

__all__ = ["configure_tracer_provider", "log_request", "trace_sql"]

log = logging.getLogger(__name__)


def log_request(span: Span, scope: MutableMapping[str, Any]) -> None:
    """At DEBUG, one line as each request starts, written inside its server span so it
    carries the request's ``trace_id`` and ``span_id``: the first line a search of the
    logs by trace finds, and the line tests know to be inside a request."""
    if log.isEnabledFor(logging.DEBUG):
        log.debug("request %s %s", scope.get("method"), scope.get("path"))


def trace_sql() -> None:
    """A client span for every statement on every psycopg connection the process opens.

    Instrumented at the driver, not the SQLAlchemy engine: the engine's connections (ORM
    and Core) and those of a plain ``psycopg_pool`` pool or ``psycopg.connect`` all come
    from ``psycopg.(Async)Connection.connect``, so each statement gets exactly one span
    (an engine tracer as well would give the engine's statements two). Once per process.
    """
    instrumentor = PsycopgInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
