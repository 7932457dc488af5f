"""The services' request middleware: one plain ASGI pass per request.

The body limit, the Prometheus metrics and the OpenTelemetry server span used to be three
middleware layers (the OpenTelemetry ASGI instrumentation the heaviest: it matched every
route a second time to name its span). :class:`RequestMiddleware` does all three with one
wrapper of ``receive`` and one of ``send``, names the span from the route Starlette
matched, and reuses the metric children of each label set.

Per request it does the least the features need: the span is started and made current
with one context ``attach`` (no context-manager layers), its attributes are set in one
call when the response is known, the exemplar is read off that span, and ``receive`` is
wrapped only when the body's length is not declared up front (chunked).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from fastapi import HTTPException
from opentelemetry import context as context_api
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
        headers = scope["headers"]
        # Most requests carry no trace context: one pass over the header names spares
        # them the propagators' lookups (one scan of the headers per field).
        parent = None
        if any(name in self.context_headers for name, _ in headers):
            parent = propagate.extract(headers, getter=_HEADERS)
        span = self.tracer.start_span(scope["method"], parent, SpanKind.SERVER)
        token = context_api.attach(trace.set_span_in_context(span, parent))
        try:
            log_request(span, scope)
            await self._measured(scope, receive, send, span)
        except Exception as exc:
            # What ``start_as_current_span`` records for an exception leaving the span.
            if span.is_recording():
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            context_api.detach(token)
            span.end()

    async def _measured(
        self, scope: Scope, receive: Receive, send: Send, span: trace.Span | None
    ) -> None:
        method = scope["method"]
        started = time.perf_counter()
        elapsed: float | None = None
        status = 500

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
            declared, chunked = _body_framing(scope["headers"])
            if declared > self.max_bytes:
                await self._reject(scope, receive, tracking_send)
                return
            try:
                # A declared Content-Length is enforced by the HTTP parser (the body
                # cannot outgrow it): only a chunked body needs counting as it arrives.
                counted = _LimitedReceive(receive, self.max_bytes) if chunked else receive
                await self.app(scope, counted, tracking_send)
            except _BodyTooLargeError:
                if elapsed is not None:
                    raise
                await self._reject(scope, receive, tracking_send)
        finally:
            _IN_PROGRESS[key] -= 1
            route = route_template(scope)
            exemplar = None
            if span is not None:
                _finish(span, scope, route, status)
                exemplar = trace_exemplar(span)
            requests, latency = self._metric_children(method, route, status)
            requests.inc()
            duration = elapsed if elapsed is not None else time.perf_counter() - started
            latency.observe(duration, exemplar=exemplar)

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


class _LimitedReceive:
    """``receive`` counting a chunked body's bytes: past the limit it raises (a 413)."""

    __slots__ = ("max_bytes", "receive", "received")

    def __init__(self, receive: Receive, max_bytes: int) -> None:
        self.receive = receive
        self.max_bytes = max_bytes
        self.received = 0

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_bytes:
                raise _BodyTooLargeError(self.max_bytes)
        return message


def _body_framing(headers: Iterable[tuple[bytes, bytes]]) -> tuple[int, bool]:
    """The declared Content-Length (0 without one) and whether the body comes chunked
    (Transfer-Encoding, which has no length up front), from one pass over the headers."""
    declared, chunked = 0, False
    for name, value in headers:
        if name == b"content-length" and value.isdigit():
            declared = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


def _finish(span: trace.Span, scope: Scope, route: str, status: int) -> None:
    """The span's attributes in one call, now that the outcome is known; the span named
    after the matched route (``GET /api/v1/tasks/{task_id}``); 5xx marks it an error."""
    if not span.is_recording():
        return
    method = scope["method"]
    attributes: dict[str, str | int] = {
        "http.request.method": method,
        "url.path": scope["path"],
        "url.scheme": scope.get("scheme", "http"),
        "http.response.status_code": status,
    }
    if route != UNMATCHED_ROUTE:
        attributes["http.route"] = route
        span.update_name(f"{method} {route}")
    span.set_attributes(attributes)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
