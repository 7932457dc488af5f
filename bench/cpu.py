"""CPU seconds spent by each class of process (service, workers, PostgreSQL) in a window.

A class is a set of root processes and all their descendants. Processes that exit within
the window are not lost: their parent's ``children_*`` times include every child it has
waited for (the postmaster reaps its backends), and a child alive at both snapshots is
counted from its own times. A process first seen at the end counts from its start, which
is the window's for the backends and workers of a run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping

import psutil


def _tree_cpu_s(root_pids: Iterable[int]) -> float:
    """User + system CPU of the roots, their waited-for children and live descendants."""
    total = 0.0
    for pid in root_pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(pid)
            times = root.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            for child in root.children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    child_times = child.cpu_times()
                    total += child_times.user + child_times.system
    return total


class CpuMeter:
    """``start()`` and ``stop()`` around a window; ``seconds`` per class in between."""

    def __init__(self, classes: Mapping[str, Iterable[int]]) -> None:
        self.classes = {name: list(pids) for name, pids in classes.items()}
        self._started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    def start(self) -> None:
        self._started = {name: _tree_cpu_s(pids) for name, pids in self.classes.items()}

    def stop(self) -> dict[str, float]:
        self.seconds = {
            name: _tree_cpu_s(pids) - self._started[name] for name, pids in self.classes.items()
        }
        return self.seconds

    def ms_per_task(self, n: int) -> dict[str, float]:
        per_task = {name: seconds * 1e3 / n for name, seconds in self.seconds.items()}
        per_task["total"] = sum(per_task.values())
        return per_task
