"""What both clients share: where the API is, how to authenticate, how to retry."""

from __future__ import annotations

from typing import Any, Self

import httpx

from taskplane_client.auth import auth_for
from taskplane_client.transport import Call, Endpoints, RetryPolicy, connection_failed

DEFAULT_API_URL = "http://localhost:8003"
DEFAULT_TIMEOUT_S = 10.0


class ClientBase:
    """Configuration shared by both clients."""

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
    ) -> None:
        """``token``: an access token, or a ``tps_`` service token (exchanged at
        ``auth_url``); ``auth`` instead of a token for anything else (e.g. a login)."""
        self.endpoints = Endpoints(api_url, auth_url)
        self.auth = auth if auth is not None else auth_for(token, auth_url)
        self.retry = retry or RetryPolicy()
        self.timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
        self.headers = {"Accept": "application/json", "User-Agent": user_agent}

    def with_retry(self, retry: RetryPolicy) -> Self:
        """The same client (sharing its connections) with another retry policy."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.retry = retry
        return clone

    def _failed(self, call: Call[Any], exc: httpx.TransportError, attempts: int) -> Exception:
        return connection_failed(exc, self.endpoints.base(call), attempts)
