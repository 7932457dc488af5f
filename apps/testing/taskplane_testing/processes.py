"""Real service processes for end-to-end tests: started, awaited and stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from taskplane_testing.postgres import free_port

#: How long a test waits for something to happen: far more than it ever needs, so that a
#: busy machine slows a test down but never fails it.
WAIT_BOUND_S = 120.0

#: The peers each program calls whose URLs default to the `make run` ports on localhost
#: (each app's config.py), by the variable that sets them. A process a test starts
#: without one of them set would talk to a developer's platform running on the machine.
LOCALHOST_PEERS: dict[str, tuple[str, ...]] = {
    "notification_service": ("TASKPLANE_TASK_SERVICE_URL", "TASKPLANE_USER_SERVICE_URL"),
    "console_service": (
        "TASKPLANE_AUTH_URL",
        "TASKPLANE_TASK_SERVICE_URL",
        "TASKPLANE_USER_SERVICE_URL",
        "TASKPLANE_NOTIFICATION_SERVICE_URL",
    ),
    "taskplane_worker": ("TASKPLANE_API_URL",),
    "taskplane_cli": ("TASKPLANE_API_URL", "TASKPLANE_AUTH_URL", "TASKPLANE_NOTIFICATIONS_URL"),
}


@cache
def _bound_socket() -> socket.socket:
    """A loopback port this process holds bound and never listens on, for its lifetime."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def nowhere_url() -> str:
    """``http://127.0.0.1:PORT`` where nothing listens, nor can while the tests run: a
    connection is refused at once."""
    return f"http://127.0.0.1:{_bound_socket().getsockname()[1]}"


def process_env(module: str, env: Mapping[str, str]) -> dict[str, str]:
    """The environment of ``python -m module`` started by a test: this process's, every
    localhost peer of the module that ``env`` does not name pointed at
    :func:`nowhere_url` (the caller's shell may export one too), then ``env``."""
    unset = {name: nowhere_url() for name in LOCALHOST_PEERS.get(module, ())}
    return {**os.environ, **unset, **env}


def wait_until(
    predicate: Callable[[], Any],
    what: str = "condition",
    timeout_s: float = WAIT_BOUND_S,
    interval_s: float = 0.2,
) -> Any:
    """Poll ``predicate`` until it returns something truthy and return that value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def stop_process(process: subprocess.Popen[bytes], grace_s: float = 20) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``: a process that drains stops cleanly."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ServiceProcess:
    """``python -m <module> serve`` on 127.0.0.1 (after ``migrate``), output kept in a file."""

    def __init__(self, module: str, env: dict[str, str], port: int | None = None) -> None:
        self.module = module
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = process_env(module, env)
        self.log = Path(tempfile.mkstemp(prefix=f"{module}-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60) -> ServiceProcess:
        subprocess.run(
            [sys.executable, "-m", self.module, "migrate"],
            env=self.env,
            check=True,
            capture_output=True,
        )
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    self.module,
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.module} exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.module} not ready after {timeout_s}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()
