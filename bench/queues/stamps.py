"""When a handler starts, as a line in a file: the far end of the latency measurement.

``CLOCK_MONOTONIC`` is one clock for every process of a Linux machine, so a stamp taken
in a worker process compares with ``time.monotonic()`` taken in the bench. Samples run
one at a time, so the i-th line belongs to the i-th task.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

#: The file ``handler`` appends to (set for the worker process).
STAMPS_ENV = "BENCH_STAMPS_FILE"


def stamp(path: str) -> None:
    """Append the time now; one ``O_APPEND`` write, so lines never interleave."""
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(descriptor, f"{time.monotonic()!r}\n".encode())
    finally:
        os.close(descriptor)


async def handler(_payload: dict[str, Any]) -> None:
    """``taskplane-worker --handler python:bench.queues.stamps:handler``."""
    stamp(os.environ[STAMPS_ENV])


def read(path: Path) -> list[float]:
    """Every stamp so far, in order."""
    try:
        return [float(line) for line in path.read_text().split()]
    except FileNotFoundError:
        return []
