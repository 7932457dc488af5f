"""The services' request middleware: one plain ASGI pass per request.

The body limit, the Prometheus metrics and the OpenTelemetry server span used to be three
middleware layers (the OpenTelemetry ASGI instrumentation the heaviest: it matched every
route a second time to name its span). :class:`RequestMiddleware` does all three with one
wrapper of ``receive`` and one of ``send``, names the span from the route Starlette
matched, and reuses the metric children of each label set.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from fastapi import HTTPException
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskplane_common.errors import problem_response, problem_type
from taskplane_common.metrics import (
    HTTP_IN_PROGRESS,
    HTTP_LATENCY,
    HTTP_REQUESTS,
    UNMATCHED_ROUTE,
    route_template,
    trace_exemplar,
)
from taskplane_common.tracing import log_request

#: Requests without a span (probes and scrapes: many, and nothing to follow).
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class _BodyTooLargeError(HTTPException):
    """An HTTPException so that FastAPI's body parsing re-raises it as a 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body exceeds the limit of {max_bytes} bytes")


class _AsgiHeaders(Getter[list[tuple[bytes, bytes]]]):
    """W3C trace context straight from the ASGI header list."""

    def get(self, carrier: list[tuple[bytes, bytes]], key: str) -> list[str] | None:
        wanted = key.encode()
        values = [value.decode("latin-1") for name, value in carrier if name == wanted]
        return values or None

    def keys(self, carrier: list[tuple[bytes, bytes]]) -> list[str]:
        return [name.decode("latin-1") for name, _ in carrier]


_HEADERS = _AsgiHeaders()
#: Requests in progress per (service, method): plain counters the gauge reads when
#: scraped (a gauge's own inc and dec take its lock twice per request).
_IN_PROGRESS: dict[tuple[str, str], int] = {}


def _count_in_progress(key: tuple[str, str]) -> None:
    """Start counting one (service, method)'s requests in progress for its gauge child."""
    _IN_PROGRESS[key] = 0
    HTTP_IN_PROGRESS.labels(*key).set_function(lambda: _IN_PROGRESS[key])


class RequestMiddleware:
    """Body limit (413 whether or not Content-Length is sent), request count and latency
    by route template (with the trace as exemplar) and a server span, in one pass."""

    def __init__(self, app: ASGIApp, *, service: str, max_bytes: int) -> None:
        self.app = app
        self.service = service
        self.max_bytes = max_bytes
        self.tracer = trace.get_tracer(__name__)
        #: The headers the propagators read (``traceparent``, ``tracestate``, ``baggage``).
        self.context_headers = frozenset(
            field.encode("latin-1") for field in propagate.get_global_textmap().fields
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in UNTRACED_PATHS:
            await self._measured(scope, receive, send, None)
            return
        method = scope["method"]
        headers = scope.get("headers", [])
        # Most requests carry no trace context: one pass over the header names spares
        # them the propagators' lookups (one scan of the headers per field).
        context = None
        if any(name in self.context_headers for name, _ in headers):
            context = propagate.extract(headers, getter=_HEADERS)
        with self.tracer.start_as_current_span(
            method,
            context=context,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
            },
        ) as span:
            log_request(span, scope)
            await self._measured(scope, receive, send, span)

    async def _measured(
        self, scope: Scope, receive: Receive, send: Send, span: trace.Span | None
    ) -> None:
        method = scope["method"]
        started = time.perf_counter()
        elapsed: float | None = None
        status = 500
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLargeError(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal status, elapsed
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed = time.perf_counter() - started
            await send(message)

        key = (self.service, method)
        if key not in _IN_PROGRESS:
            _count_in_progress(key)
        _IN_PROGRESS[key] += 1
        try:
            if _declared_length(scope.get("headers", ())) > self.max_bytes:
                await self._reject(scope, receive, tracking_send)
                return
            try:
                await self.app(scope, limited_receive, tracking_send)
            except _BodyTooLargeError:
                if elapsed is not None:
                    raise
                await self._reject(scope, receive, tracking_send)
        finally:
            _IN_PROGRESS[key] -= 1
            route = route_template(scope)
            if span is not None:
                _finish(span, method, route, status)
            requests, latency = self._metric_children(method, route, status)
            requests.inc()
            duration = elapsed if elapsed is not None else time.perf_counter() - started
            latency.observe(duration, exemplar=trace_exemplar())

    def _metric_children(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        """The counter and histogram of one label set, looked up once per process."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                HTTP_REQUESTS.labels(self.service, method, route, str(status)),
                HTTP_LATENCY.labels(self.service, method, route),
            )
        return children

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            f"request body exceeds the limit of {self.max_bytes} bytes",
            type_=problem_type("payload-too-large"),
        )
        await response(scope, receive, send)


def _declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int:
    for name, value in headers:
        if name == b"content-length" and value.isdigit():
            return int(value)
    return 0


def _finish(span: trace.Span, method: str, route: str, status: int) -> None:
    """Name the span after the matched route (``GET /api/v1/tasks/{task_id}``) and record
    the outcome; 5xx responses mark it as an error."""
    if route != UNMATCHED_ROUTE:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
