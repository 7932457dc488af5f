"""The operator under test: ``python -m taskplane_operator`` as a subprocess, configured
only through its environment, healthy before a test uses it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from .task_service import free_port
from .waiting import eventually, stop_process


@dataclass
class OperatorProcess:
    process: asyncio.subprocess.Process
    health_url: str
    metrics_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.asynccontextmanager
async def start_operator(
    kubeconfig: Path, log_dir: Path, **settings: str
) -> AsyncIterator[OperatorProcess]:
    """``python -m taskplane_operator`` with ``TASKPLANE_<NAME>`` from ``settings`` (plus
    test defaults), healthy before it is yielded, stopped after."""
    health, metrics = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TASKPLANE_")},
        "KUBECONFIG": str(kubeconfig),
        "TASKPLANE_WORKER_IMAGE": "registry.example/taskplane-worker:test",
        "TASKPLANE_HEALTH_PORT": str(health),
        "TASKPLANE_METRICS_PORT": str(metrics),
        "TASKPLANE_LOG_FORMAT": "plain",
        "TASKPLANE_REQUEST_TIMEOUT_S": "10",
        **{f"TASKPLANE_{name.upper()}": value for name, value in settings.items()},
    }
    log_path = log_dir / "operator.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "taskplane_operator", env=env, stdout=log, stderr=log
        )
    operator = OperatorProcess(
        process,
        f"http://127.0.0.1:{health}/healthz",
        f"http://127.0.0.1:{metrics}/metrics",
        log_path,
    )

    async def healthy() -> bool:
        if process.returncode is not None:
            raise AssertionError(f"operator exited early:\n{operator.log()}")
        try:
            async with httpx.AsyncClient(timeout=1) as client:
                return (await client.get(operator.health_url)).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        await eventually(healthy, interval=0.2)
        yield operator
    finally:
        await stop_process(process)
