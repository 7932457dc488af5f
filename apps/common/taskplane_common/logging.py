"""Structured JSON logging with the current trace and span ids on every line."""

from __future__ import annotations

import logging
import sys

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter


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


def configure_logging(service_name: str, level: str = "INFO") -> None:
    """Route the root, uvicorn and library loggers through one JSON handler on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(TraceContextFilter(service_name))
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(trace_id)s %(span_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
    # Access lines duplicate the metrics and carry raw paths; keep them at WARNING.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
