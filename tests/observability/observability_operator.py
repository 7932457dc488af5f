"""The real operator (``python -m taskplane_operator``) against kmock's KubernetesEmulator,
for the observability tests: the emulator, admission and process helpers of
operator/tests/support, reused as they are. They are asynchronous and the traffic fixture
blocks, so they run on an event loop of their own thread."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import sys
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import yaml

REPO = Path(__file__).resolve().parents[2]
_SUPPORT = "taskplane_operator_test_support"
#: Generous: one call may wait for several operator polls on a loaded machine.
CALL_BOUND_S = 300.0

T = TypeVar("T")


def _support(module: str) -> ModuleType:
    """A module of operator/tests/support, loaded as a package under its own name
    (``operator`` is the standard library's, so the directory cannot be imported)."""
    if _SUPPORT not in sys.modules:
        path = REPO / "operator" / "tests" / "support"
        spec = importlib.util.spec_from_file_location(
            _SUPPORT, path / "__init__.py", submodule_search_locations=[str(path)]
        )
        assert spec is not None
        assert spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules[_SUPPORT] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{_SUPPORT}.{module}")


@dataclass
class RunningOperator:
    """The operator process, its TaskQueues (in ``namespace``) and a way to run the
    support's coroutines on the emulator's loop."""

    loop: asyncio.AbstractEventLoop
    queues: Any  # support.kube.Queues
    process: Any  # support.operator.OperatorProcess

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(CALL_BOUND_S)

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
    crd_module, kube_module = _support("crd"), _support("kube")
    operator_module, waiting = _support("operator"), _support("waiting")
    crd = yaml.safe_load(crd_module.CRD_PATH.read_text())
    admit = crd_module.Admission(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="kmock", daemon=True)
    thread.start()
    stack = contextlib.AsyncExitStack()
    running = RunningOperator(loop, None, None)
    try:
        kube = running.run(stack.enter_async_context(kube_module.run_emulator(crd, admit)))
        kubeconfig = kube_module.write_kubeconfig(log_dir / "kubeconfig", kube)
        running.process = running.run(
            stack.enter_async_context(
                operator_module.start_operator(kubeconfig, log_dir, **settings)
            )
        )
        running.queues = kube_module.Queues(kube, waiting.eventually, poll_s=1, window_s=3)
        running.queues.ns = namespace
        yield running
    finally:
        running.run(stack.aclose())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
