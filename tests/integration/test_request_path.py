"""No dependency of any service's routes runs in the thread pool.

FastAPI runs a plain ``def`` dependency in a worker thread: a thread hop (and a GIL
hand-off) per dependency per request, for functions that only read ``request.app.state``.
py-spy showed it on the task list; every dependency is ``async def`` since.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

SERVICES = ("auth_service", "user_service", "task_service", "notification_service")


def _dependencies(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependencies(sub)


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute, through included routers (FastAPI wraps each in ``_IncludedRouter``)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def _runs_on_the_loop(call: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_dependency_is_async(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    if service != "auth_service":  # it issues the tokens and verifies with its own keys
        monkeypatch.setenv("TASKPLANE_AUTH_DISABLED", "true")
    app = importlib.import_module(f"{service}.main").build_app()
    routes = list(_api_routes(app.routes))
    assert routes, service
    threaded = {
        f"{route.path}: {call.__qualname__}"
        for route in routes
        for call in _dependencies(route.dependant)
        if not _runs_on_the_loop(call)
    }
    assert not threaded, sorted(threaded)
