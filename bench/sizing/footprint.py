"""Footprint: resident memory (RSS, the process and its children) of every service and a
worker, idle and under load, sampled while the task API and a queue are being driven."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil

SAMPLE_S = 0.2


def rss_mib(pid: int) -> float:
    """RSS of ``pid`` and its descendants (uvicorn may fork), in MiB."""
    process = psutil.Process(pid)
    total: int = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


class RssSampler:
    """Peak RSS per named process, sampled in a thread until stopped."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.peak_mib = dict.fromkeys(pids, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.pids.items():
                try:
                    self.peak_mib[name] = max(self.peak_mib[name], rss_mib(pid))
                except psutil.NoSuchProcess:
                    continue
            self._stop.wait(SAMPLE_S)

    @contextmanager
    def running(self) -> Iterator[RssSampler]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=10)


def footprint(idle: dict[str, float], loaded: dict[str, float]) -> dict[str, Any]:
    """Idle and peak-under-load MiB per process."""
    return {name: {"idle_mib": idle[name], "load_mib": loaded[name]} for name in idle}
