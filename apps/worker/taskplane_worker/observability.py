"""Worker metrics and the tiny HTTP server for ``/metrics`` and ``/healthz`` (port 9100).

A hand-rolled asyncio server keeps the worker free of a web framework and, unlike
uvicorn, leaves the process's SIGTERM handling to the worker's drain logic.
"""

from __future__ import annotations

import asyncio
import contextlib

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

TASKS = Counter(
    "taskplane_worker_tasks_total",
    "Tasks handled, by outcome (completed, failed, timed_out, released, lost).",
    ["queue", "outcome"],
)
DURATION = Histogram(
    "taskplane_worker_task_duration_seconds",
    "Handler run time.",
    ["queue"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
IN_FLIGHT = Gauge(
    "taskplane_worker_in_flight",
    "Tasks started and not yet settled: running, or finished with the outcome unreported.",
    ["queue"],
)
API_ERRORS = Counter(
    "taskplane_worker_api_errors_total", "Transient task-service API errors.", ["call"]
)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        async with asyncio.timeout(5):  # the whole request head, so no peer holds it open
            request_line = await reader.readline()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
        parts = request_line.decode("latin-1").split()
        path = parts[1].split("?")[0] if len(parts) > 1 else ""
        if path == "/metrics":
            status, content_type, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest()
        elif path == "/healthz":
            status, content_type, body = "200 OK", "application/json", b'{"status":"ok"}'
        else:
            status, content_type, body = "404 Not Found", "text/plain", b"not found\n"
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def start_metrics_server(host: str, port: int) -> asyncio.Server:
    return await asyncio.start_server(_serve, host, port)
