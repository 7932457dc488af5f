"""The services' JSON log lines, read back from the files real processes wrote, and the
check that every line written inside a request or a traced task is tied to a span the
OTLP receiver got: same service, same ``trace_id`` and ``span_id`` (the field names the
Grafana Loki datasource's derived field and the Jaeger trace-to-logs link use)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from taskplane_testing.otlp import OtlpReceiver
from taskplane_testing.processes import wait_until

#: The DEBUG line taskplane_common.tracing writes as each request starts, inside its span.
REQUEST_LOGGER = "taskplane_common.tracing"


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every JSON object line of a process's output (anything else is not a log line)."""
    lines = []
    for text in path.read_text(errors="replace").splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines


def is_request_line(line: dict[str, Any]) -> bool:
    return line.get("logger") == REQUEST_LOGGER and str(line.get("message")).startswith("request ")


def assert_lines_follow_the_spans(
    logs: dict[str, Path], otlp: OtlpReceiver
) -> dict[str, list[dict[str, Any]]]:
    """Every request line has a trace id; every line with one names a span of its own
    service that the receiver got (waiting for spans still being exported). Returns
    each process's lines."""
    lines = {name: json_lines(path) for name, path in logs.items()}
    requests = [line for found in lines.values() for line in found if is_request_line(line)]
    assert requests, "no request line: were the processes started at DEBUG?"
    missing = [line for line in requests if not line.get("trace_id") or not line.get("span_id")]
    assert not missing, f"request lines without their trace: {missing[:3]}"
    traced = {
        (line["service"], line["trace_id"], line["span_id"])
        for found in lines.values()
        for line in found
        if line.get("trace_id")
    }

    def unmatched() -> set[tuple[str, str, str]]:
        received = {(s.service, s.trace_id, s.span_id) for s in otlp.spans_snapshot()}
        return traced - received

    wait_until(lambda: not unmatched(), "the span of every traced log line at the receiver")
    return lines
