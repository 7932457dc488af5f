"""The operator under test: ``python -m taskplane_operator`` as a subprocess, configured
only through its environment, healthy before a test uses it; and, for tests that block
(the observability suite), the operator against the Kubernetes emulator on an event loop
of its own thread."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from taskplane_testing.crd import CRD_PATH, Admission
from taskplane_testing.kube import Queues, run_emulator, write_kubeconfig
from taskplane_testing.postgres import free_port
from taskplane_testing.waiting import eventually, stop_process

#: Generous: one call may wait for several operator polls on a loaded machine.
CALL_BOUND_S = 300.0

T = TypeVar("T")


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


def run_on(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on ``loop`` (another thread's) and wait for its result."""
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(CALL_BOUND_S)


@dataclass
class RunningOperator:
    """The operator process, its TaskQueues (in ``namespace``) and a way to run the
    helpers' coroutines on the emulator's loop."""

    loop: asyncio.AbstractEventLoop
    queues: Queues
    process: OperatorProcess

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return run_on(self.loop, coroutine)

    @property
    def metrics_url(self) -> str:
        return str(self.process.metrics_url)

    @property
    def log(self) -> Path:
        return Path(self.process.log_path)


@contextlib.contextmanager
def operator_on_emulator(
    namespace: str, log_dir: Path, **settings: str
) -> Iterator[RunningOperator]:
    """The emulator serving the CRD and the operator with ``TASKPLANE_<NAME>`` settings;
    TaskQueues are created in ``namespace``, poll each second and stabilize over 3 s."""
    crd = yaml.safe_load(CRD_PATH.read_text())
    admit = Admission(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="kmock", daemon=True)
    thread.start()
    stack = contextlib.AsyncExitStack()
    try:
        kube = run_on(loop, stack.enter_async_context(run_emulator(crd, admit)))
        kubeconfig = write_kubeconfig(log_dir / "kubeconfig", kube)
        operator = start_operator(kubeconfig, log_dir, **settings)
        process = run_on(loop, stack.enter_async_context(operator))
        queues = Queues(kube, eventually, poll_s=1, window_s=3)
        queues.ns = namespace
        yield RunningOperator(loop, queues, process)
    finally:
        run_on(loop, stack.aclose())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
