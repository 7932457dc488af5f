"""``python:`` handlers the worker tests run inside real worker processes."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from opentelemetry import trace


def _append(line: str) -> None:
    """One O_APPEND write per line: concurrent writers never interleave."""
    descriptor = os.open(os.environ["RECORD_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(descriptor, (line + "\n").encode())
    finally:
        os.close(descriptor)


def record(payload: dict[str, Any]) -> dict[str, Any]:
    """Sync: do a little work, then record the execution."""
    time.sleep(float(payload.get("sleep", 0.005)))
    _append(str(payload["n"]))
    return {"n": payload["n"]}


async def slow_unless_fast(payload: dict[str, Any]) -> None:
    """Long tasks, unless the worker runs with FAST=1 (a replacement after a drain)."""
    await asyncio.sleep(0.05 if os.environ.get("FAST") else float(payload["seconds"]))
    _append(str(payload["n"]))


async def dispatch(payload: dict[str, Any]) -> Any:
    """One handler with several behaviours, chosen by ``payload.op``."""
    op = payload["op"]
    if op == "echo":
        return payload
    if op == "raise":
        raise RuntimeError("kaboom")
    if op == "sleep":
        await asyncio.sleep(float(payload["seconds"]))
        return None
    if op == "trace":
        context = trace.get_current_span().get_span_context()
        _append(f"{context.trace_id:032x}")
        return None
    raise ValueError(op)
