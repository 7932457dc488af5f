"""Every API call as a method of both clients, from one table.

Each entry binds a function of :mod:`taskplane_client.calls` (which describes the
request) to the client's ``send``: on :class:`~taskplane_client.TaskplaneClient` the
method returns the answer, on :class:`~taskplane_client.AsyncTaskplaneClient` an
awaitable of it. The parameters are the call's own (``ParamSpec``), so both clients keep
typed signatures under mypy strict and neither writes a call out by hand. A ``Listing``
binds a paged listing (``calls.task_pages``) to the client's ``walk`` the same way.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Generic, ParamSpec, Self, TypeVar, overload

import httpx

from taskplane_client import calls
from taskplane_client.base import ClientBase, TransportT
from taskplane_client.calls import Pages
from taskplane_client.transport import Call

P = ParamSpec("P")
R = TypeVar("R")
ItemT = TypeVar("ItemT")
SyncR = TypeVar("SyncR")
AsyncR = TypeVar("AsyncR")


class ClientMethod(Generic[P, SyncR, AsyncR]):
    """``build`` as a method of the client it is read on: what it builds handed to the
    client's ``via`` method. Typed by what that method returns on each client."""

    def __init__(self, build: Callable[P, Any], via: str) -> None:
        self.build = build
        self.via = via
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, client: None, owner: type[Any]) -> Self: ...

    # The clients are told apart by their transport type, so this module needs neither.
    @overload
    def __get__(
        self, client: ClientBase[httpx.BaseTransport], owner: type[Any]
    ) -> Callable[P, SyncR]: ...

    @overload
    def __get__(
        self, client: ClientBase[httpx.AsyncBaseTransport], owner: type[Any]
    ) -> Callable[P, AsyncR]: ...

    def __get__(self, client: Any, owner: type[Any]) -> Any:
        if client is None:
            return self
        take = getattr(client, self.via)

        @functools.wraps(self.build)
        def method(*args: Any, **kwargs: Any) -> Any:
            return take(self.build(*args, **kwargs))

        return method


class Endpoint(ClientMethod[P, R, Awaitable[R]]):
    """A call of :mod:`taskplane_client.calls`: the answer, or an awaitable of it."""

    def __init__(self, build: Callable[P, Call[R]]) -> None:
        super().__init__(build, "send")


class Listing(ClientMethod[P, Iterator[ItemT], AsyncIterator[ItemT]]):
    """A listing of :mod:`taskplane_client.calls` (``task_pages``): an iterator of its
    items, or an async iterator."""

    def __init__(self, build: Callable[P, Pages[ItemT]]) -> None:
        super().__init__(build, "walk")


class ApiCalls(ClientBase[TransportT]):
    """The calls both clients make, each named once (the table the issue asked for)."""

    health = Endpoint(calls.health)
    # tasks
    create_task = Endpoint(calls.create_task)
    list_tasks = Endpoint(calls.list_tasks)
    iter_tasks = Listing(calls.task_pages)
    get_task = Endpoint(calls.get_task)
    update_task = Endpoint(calls.update_task)
    delete_task = Endpoint(calls.delete_task)
    task_stats = Endpoint(calls.task_stats)
    cancel_task = Endpoint(calls.cancel_task)
    # queues
    list_queues = Endpoint(calls.list_queues)
    get_queue = Endpoint(calls.get_queue)
    put_queue = Endpoint(calls.put_queue)
    delete_queue = Endpoint(calls.delete_queue)
    enqueue = Endpoint(calls.enqueue)
    enqueue_many = Endpoint(calls.enqueue_many)
    list_dead = Endpoint(calls.list_dead)
    retry_dead = Endpoint(calls.retry_dead)
    # leases
    lease = Endpoint(calls.lease)
    heartbeat = Endpoint(calls.heartbeat)
    heartbeat_many = Endpoint(calls.heartbeat_many)
    complete = Endpoint(calls.complete)
    complete_many = Endpoint(calls.complete_many)
    fail = Endpoint(calls.fail)
    release = Endpoint(calls.release)
    # events
    events = Endpoint(calls.events)
    iter_events = Listing(calls.event_pages)
    # auth
    login = Endpoint(calls.login)
    logout = Endpoint(calls.logout)
    create_service_token = Endpoint(calls.create_service_token)
    list_service_tokens = Endpoint(calls.list_service_tokens)
    revoke_service_token = Endpoint(calls.revoke_service_token)
    exchange_kubernetes_token = Endpoint(calls.exchange_kubernetes_token)
    put_workload_binding = Endpoint(calls.put_workload_binding)
    delete_workload_binding = Endpoint(calls.delete_workload_binding)
    list_workload_bindings = Endpoint(calls.list_workload_bindings)
