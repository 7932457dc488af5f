"""What both clients share: where the API is, how to authenticate, how to retry, and
how a call becomes a request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Generic, Self, TypeVar

import httpx
from tenacity import BaseRetrying

from taskplane_client.auth import auth_for
from taskplane_client.transport import (
    Call,
    Endpoints,
    RetryPolicy,
    connection_failed,
    request_kwargs,
)

DEFAULT_API_URL = "http://localhost:8003"
DEFAULT_TIMEOUT_S = 10.0

#: ``httpx.BaseTransport`` for the blocking client, ``httpx.AsyncBaseTransport`` for asyncio.
TransportT = TypeVar("TransportT")


class ClientBase(Generic[TransportT]):
    """Configuration shared by both clients; each opens its own httpx client in
    :meth:`_connect` (``transport``: e.g. an ``httpx.MockTransport`` in tests)."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        auth_url: str | None = None,
        token: str | None = None,
        auth: httpx.Auth | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        user_agent: str = "taskplane-client",
        transport: TransportT | None = None,
    ) -> None:
        """``token``: an access token, or a ``tps_`` service token (exchanged at
        ``auth_url``); ``auth`` instead of a token for anything else (e.g. a login)."""
        self.endpoints = Endpoints(api_url, auth_url)
        self.auth = auth if auth is not None else auth_for(token, auth_url)
        self.retry = retry or RetryPolicy()
        self.timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
        self.headers = {"Accept": "application/json", "User-Agent": user_agent}
        self._connect(transport)

    def _connect(self, transport: TransportT | None) -> None:
        raise NotImplementedError

    def with_retry(self, retry: RetryPolicy) -> Self:
        """The same client (sharing its connections) with another retry policy."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.retry = retry
        return clone

    def _request(self, call: Call[Any]) -> dict[str, Any]:
        """Keyword arguments of ``httpx.(Async)Client.request`` for ``call``."""
        return {
            "method": call.method,
            "url": self.endpoints.url(call),
            **request_kwargs(call, self.auth, self.timeout),
        }

    @contextmanager
    def _reaching(self, call: Call[Any], retrying: BaseRetrying) -> Iterator[None]:
        """A transport error left after the retries becomes a ConnectionFailedError that
        names the server and the attempts made."""
        try:
            yield
        except httpx.TransportError as exc:
            attempts = int(retrying.statistics.get("attempt_number", 1))
            raise connection_failed(exc, self.endpoints.base(call), attempts) from exc
