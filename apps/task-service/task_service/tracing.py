"""The trace context the service stores with tasks and events, for others to continue."""

from __future__ import annotations

from opentelemetry.propagate import inject


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span (None outside any span)."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent")
