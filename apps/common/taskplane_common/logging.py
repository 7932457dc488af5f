"""Structured JSON logging with the current trace and span ids on every line.

The formatter and the trace-context filter are the client package's (one implementation
for services, the worker and the operator); services add the uvicorn loggers.
"""

from __future__ import annotations

import logging

from taskplane_client.observability import TraceContextFilter
from taskplane_client.observability import configure_logging as configure_root_logging

__all__ = ["TraceContextFilter", "configure_logging"]


def configure_logging(service_name: str, level: str = "INFO", log_format: str = "json") -> None:
    """Route the root, uvicorn and library loggers through one handler on stdout."""
    configure_root_logging(service_name, level, log_format)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
    # Access lines duplicate the metrics and carry raw paths; keep them at WARNING.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
