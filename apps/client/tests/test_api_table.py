"""The one table of API calls (taskplane_client.api): every call of the calls package is a method of
both clients, with the call's own signature and documentation."""

from __future__ import annotations

import inspect

import pytest

from taskplane_client import AsyncTaskplaneClient, TaskplaneClient, calls
from taskplane_client.api import ApiCalls, Endpoint
from taskplane_client.transport import Call

#: Calls the clients do not expose: the token refresh is SessionAuth's own business.
NOT_METHODS = {"refresh"}


def call_functions() -> dict[str, object]:
    """The public functions of the calls package that build a Call."""
    return {
        name: function
        for name, function in inspect.getmembers(calls, inspect.isfunction)
        if function.__module__.startswith(f"{calls.__name__}.")
        and not name.startswith("_")
        and inspect.signature(function).return_annotation.startswith("Call[")
    }


def table() -> dict[str, Endpoint[..., object]]:
    return {name: e for name, e in vars(ApiCalls).items() if isinstance(e, Endpoint)}


def test_every_call_is_in_the_table_once_under_its_own_name() -> None:
    functions = call_functions()
    assert len(functions) > 30
    assert set(table()) == set(functions) - NOT_METHODS
    for name, endpoint in table().items():
        assert endpoint.build is functions[name], name


@pytest.mark.parametrize("client_type", [TaskplaneClient, AsyncTaskplaneClient])
def test_both_clients_show_each_calls_signature(client_type: type[ApiCalls]) -> None:
    client = client_type("http://127.0.0.1:9", token="not-used")
    for name, endpoint in table().items():
        method = getattr(client, name)
        assert inspect.signature(method) == inspect.signature(endpoint.build), name
        assert method.__doc__ == endpoint.build.__doc__
        assert method.__name__ == name


async def test_the_async_method_awaits_the_same_request_the_sync_one_sends() -> None:
    """Both send the very Call the table's function builds (no request of their own)."""
    sent: list[Call[object]] = []

    class Recording(TaskplaneClient):
        def send(self, call: Call[object]) -> object:  # type: ignore[override]
            sent.append(call)
            return "sync answer"

    class AsyncRecording(AsyncTaskplaneClient):
        async def send(self, call: Call[object]) -> object:  # type: ignore[override]
            sent.append(call)
            return "async answer"

    sync = Recording("http://127.0.0.1:9", token="not-used")
    asynchronous = AsyncRecording("http://127.0.0.1:9", token="not-used")
    assert sync.list_dead("emails", limit=7) == "sync answer"
    assert await asynchronous.list_dead("emails", limit=7) == "async answer"
    expected = calls.list_dead("emails", limit=7)
    assert [(c.method, c.path, c.params) for c in sent] == 2 * [
        (expected.method, expected.path, expected.params)
    ]
