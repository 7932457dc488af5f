"""Handler specs: ``http://…``, ``python:module:function``, ``builtin:…``.

Every handler becomes one async callable taking the leased task. Raising
:class:`HandlerError` controls whether the failure is retried; any other exception is
a retryable failure. Neither ever stops the worker.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from taskplane_client import LeasedTask


@dataclass(frozen=True)
class TaskInfo:
    id: str
    queue: str
    attempt: int
    max_attempts: int
    payload: dict[str, Any]
    timeout_s: float | None

    @classmethod
    def from_leased(cls, task: LeasedTask) -> TaskInfo:
        return cls(
            id=str(task.id),
            queue=task.queue,
            attempt=task.attempt,
            max_attempts=task.max_attempts,
            payload=task.payload,
            timeout_s=task.timeout_s,
        )


Handler = Callable[[TaskInfo], Awaitable[Any]]


class HandlerError(Exception):
    """A failed task; ``retryable=False`` dead-letters it at once."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


async def _noop(_: TaskInfo) -> None:
    return None


async def _sleep(task: TaskInfo) -> dict[str, float]:
    """Sleeps ``payload.seconds`` (default 1): a stand-in for slow work."""
    seconds = float(task.payload.get("seconds", 1.0))
    await asyncio.sleep(seconds)
    return {"slept": seconds}


async def _echo(task: TaskInfo) -> dict[str, Any]:
    return task.payload


async def _fail(task: TaskInfo) -> None:
    message = str(task.payload.get("error", "builtin:fail always fails"))
    raise HandlerError(message, retryable=bool(task.payload.get("retryable", True)))


BUILTINS: dict[str, Handler] = {"noop": _noop, "sleep": _sleep, "echo": _echo, "fail": _fail}


def _python_handler(target: str) -> Handler:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"python handler must be python:module:function, got {target!r}")
    function = getattr(importlib.import_module(module_name), attribute)
    if not callable(function):
        raise ValueError(f"{target} is not callable")

    async def call(task: TaskInfo) -> Any:
        if inspect.iscoroutinefunction(function):
            return await function(task.payload)
        # Sync handlers run in a thread so heartbeats and other tasks keep going.
        return await asyncio.to_thread(function, task.payload)

    return call


def _http_handler(url: str) -> Handler:
    # The task's timeout_s is enforced by the worker; this only bounds a hung connection.
    client = httpx.AsyncClient(timeout=httpx.Timeout(3600, connect=10))

    async def call(task: TaskInfo) -> Any:
        response = await client.post(
            url,
            json=task.payload,
            headers={
                "X-Taskplane-Task-Id": task.id,
                "X-Taskplane-Queue": task.queue,
                "X-Taskplane-Attempt": str(task.attempt),
            },
        )
        if not response.is_success:
            # A client error other than timeout/throttling will not improve with retries.
            permanent = response.is_client_error and response.status_code not in (408, 429)
            raise HandlerError(
                f"{url} answered {response.status_code}: {response.text[:500]}",
                retryable=not permanent,
            )
        if "json" in response.headers.get("content-type", ""):
            return response.json()
        return {"status_code": response.status_code}

    return call


def resolve(spec: str) -> Handler:
    """The handler a ``--handler`` spec names; ValueError for anything else."""
    scheme, _, rest = spec.partition(":")
    if scheme in ("http", "https"):
        return _http_handler(spec)
    if scheme == "python":
        return _python_handler(rest)
    if scheme == "builtin":
        if rest not in BUILTINS:
            raise ValueError(f"unknown builtin {rest!r}; choose one of {', '.join(BUILTINS)}")
        return BUILTINS[rest]
    raise ValueError(f"unsupported handler {spec!r}: use http://, python:mod:fn or builtin:name")
