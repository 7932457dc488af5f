"""Tracing of a lease, after OpenTelemetry's messaging conventions for a batch receive.

A lease hands out tasks enqueued in many traces, so its span cannot be the child of each:
it is a ``receive <queue>`` span in the lease request's trace that carries one *link* per
leased task to the task's producer context (the ``traceparent`` stored at enqueue), so a
trace viewer goes from any task's trace to the lease that delivered it and back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from task_service.queue.records import Leased

tracer = trace.get_tracer("task_service.queue")
_PROPAGATOR = TraceContextTextMapPropagator()


def producer_link(task: Leased) -> Link | None:
    """A link to the context ``task`` was enqueued in (None without a valid one)."""
    if not task.traceparent:
        return None
    context = _PROPAGATOR.extract({"traceparent": task.traceparent})
    span_context = trace.get_current_span(context).get_span_context()
    if not span_context.is_valid:
        return None
    return Link(span_context, {"messaging.message.id": str(task.id)})


@contextmanager
def receiving(queue: str, *, root: bool = False) -> Iterator[trace.Span]:
    """The ``receive <queue>`` span around a lease (nothing is recorded when the request
    itself is not sampled); ``linked`` adds the tasks it granted. ``root``: a claim of
    the lease stream's dispatcher, in no request: a trace of its own, which the sampler
    decides on."""
    if not root and not trace.get_current_span().is_recording():
        yield trace.INVALID_SPAN
        return
    with tracer.start_as_current_span(
        f"receive {queue}",
        kind=SpanKind.CLIENT,
        attributes={
            "messaging.system": "taskplane",
            "messaging.operation.type": "receive",
            "messaging.operation.name": "receive",
            "messaging.destination.name": queue,
        },
    ) as span:
        yield span


@contextmanager
def settling(op: str, queue: str, traceparent: str | None) -> Iterator[None]:
    """A ``<op> <queue>`` span around a lease action received on a lease stream, in the
    trace its message carries (the batch's first task's), as an HTTP request's server
    span would be; nothing without one."""
    if not traceparent:
        yield
        return
    context = _PROPAGATOR.extract({"traceparent": traceparent})
    with tracer.start_as_current_span(
        f"{op} {queue}",
        context=context,
        kind=SpanKind.SERVER,
        attributes={
            "messaging.system": "taskplane",
            "messaging.operation.type": "settle",
            "messaging.operation.name": op,
            "messaging.destination.name": queue,
        },
    ):
        yield


def linked(span: trace.Span, tasks: Sequence[Leased]) -> None:
    """Record the batch on ``span``: its size and a link to each task's producer."""
    if not span.is_recording():
        return
    span.set_attribute("messaging.batch.message_count", len(tasks))
    for task in tasks:
        link = producer_link(task)
        if link is not None:
            span.add_link(link.context, link.attributes)
