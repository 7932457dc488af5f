"""JSON logs and tracing for processes built on the client (the worker, the operator) and,
through ``taskplane_common``, for the services: written once, here, because this package
carries no web framework or database library.

Needs the ``observability`` extra (``pip install taskplane-client[observability]``);
the client itself never imports this module.
"""

from __future__ import annotations

import logging
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pythonjsonlogger.json import JsonFormatter

log = logging.getLogger(__name__)


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id``/``span_id`` of the active span (empty strings outside a span)."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self.service_name = service_name

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else ""
        record.span_id = format(context.span_id, "016x") if context.is_valid else ""
        record.service = self.service_name
        return True


#: Libraries that log every HTTP request at INFO: the request metrics and spans already
#: say that, so their lines would only drown the application's own.
CHATTY_LOGGERS = ("httpx", "httpcore")

#: ``json`` for machines (one object a line, what log pipelines parse); ``console`` for
#: people reading a terminal (``make run``), with the same fields.
LOG_FORMATS = ("json", "console")


def configure_logging(service_name: str, level: str = "INFO", log_format: str = "json") -> None:
    """Route the root logger through one handler on stdout, JSON or console lines."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(TraceContextFilter(service_name))
    formatter: logging.Formatter
    if log_format == "json":
        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(trace_id)s %(span_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    else:
        formatter = logging.Formatter(
            "%(asctime)s %(levelname)-7s %(name)s: %(message)s  trace_id=%(trace_id)s",
            datefmt="%H:%M:%S",
        )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


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
