"""What every "as deployed" run shares: its configuration, its record, the wait for done."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench.cpu import CpuMeter


class Exited(Protocol):
    @property
    def returncode(self) -> int | None: ...


DONE_TIMEOUT_S = 600.0
#: A run whose finished count does not move for this long has failed (a broken service
#: answering 500, a wedged worker): stop it instead of waiting out DONE_TIMEOUT_S.
STALL_S = 60.0
POLL_S = 0.02


@dataclass
class DeployedConfig:
    n: int
    workers: int
    concurrency: int
    enqueue_batch: int
    repeats: int
    engines: list[str] = field(
        default_factory=lambda: ["taskplane", "taskplane-http", "pgqueuer", "procrastinate"]
    )
    #: The task-service's database pool (taskplane-http only).
    service_pool_size: int = 20


Log = Callable[[str], None]


def run_record(
    n: int, enqueue_s: float, process_s: float, meter: CpuMeter, outcome: dict[str, int], ok: bool
) -> dict[str, Any]:
    """One run's numbers, the same shape for every engine."""
    return {
        "n": n,
        "enqueue_s": enqueue_s,
        "process_s": process_s,
        "cpu_s": meter.seconds,
        "cpu_ms_per_task": meter.ms_per_task(n),
        "outcome": outcome,
        "exactly_once": ok,
    }


async def wait_done(
    finished: Callable[[], Awaitable[int]],
    n: int,
    processes: Sequence[Exited],
    what: str,
    logs: Path,
) -> None:
    """Poll until ``finished()`` reaches ``n``; fail loudly on a dead process, a stall
    or the deadline."""
    deadline = time.monotonic() + DONE_TIMEOUT_S
    last, moved = -1, time.monotonic()
    while (count := await finished()) < n:
        now = time.monotonic()
        if count != last:
            last, moved = count, now
        if now > deadline or now - moved > STALL_S:
            raise TimeoutError(f"{what}: {count}/{n} finished, stuck; logs in {logs}")
        if any(p.returncode is not None for p in processes):
            raise RuntimeError(f"{what}: a worker process exited; logs in {logs}")
        await asyncio.sleep(POLL_S)
