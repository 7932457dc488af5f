"""Route dependencies every service builds the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request


def app_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency answering ``request.app.state.<name>``, which the app set when it
    started; the ``Annotated`` alias that depends on it states its type. Async, so
    FastAPI calls it in the event loop rather than in its thread pool."""

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    dependency.__name__ = dependency.__qualname__ = f"app_state_{name}"
    return dependency
