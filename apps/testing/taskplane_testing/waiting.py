"""Bounded waiting: every wait in the operator tests ends, and none is sized to the
expected time. A loaded machine makes a wait slower, never a failure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

#: The TaskQueues in these tests poll every second.
POLL_S = 1.0
#: How many polls a wait allows before it counts as a failure: far more than any
#: condition needs, so only a real bug, not a busy machine, runs into it.
SAFETY = 60
BOUND_S = POLL_S * SAFETY

WaitFor = Callable[..., Awaitable[Any]]


async def eventually(
    check: Callable[[], Awaitable[Any]], within: float = BOUND_S, interval: float = 0.1
) -> Any:
    """Poll ``check`` until it returns something truthy; the last value or a timeout."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s (last: {value!r})")
        await asyncio.sleep(interval)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL after 15 s; only the process this test session started."""
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=15)
        except TimeoutError:
            process.kill()
            await process.wait()
