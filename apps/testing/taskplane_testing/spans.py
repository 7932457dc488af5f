"""Capture the spans a block of test code produces, from the process's tracer provider."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider


class _Capture(SpanProcessor):
    """Installed once per provider (processors cannot be removed); records only when on."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.recording = False

    def on_end(self, span: ReadableSpan) -> None:
        if self.recording:
            self.spans.append(span)


_captures: dict[int, _Capture] = {}


@contextmanager
def captured_spans() -> Iterator[list[ReadableSpan]]:
    """``with captured_spans() as spans:`` — the finished spans of the block, in order."""
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), "configure_tracer_provider() was not called"
    capture = _captures.get(id(provider))
    if capture is None:
        capture = _captures[id(provider)] = _Capture()
        provider.add_span_processor(capture)
    capture.spans = []
    capture.recording = True
    try:
        yield capture.spans
    finally:
        capture.recording = False
