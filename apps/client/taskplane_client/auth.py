"""Authentication of taskplane's API clients: workers, the operator, the CLI, scripts.

Three kinds of credentials, each an ``httpx.Auth``:

- an access token (a JWT) is sent as it is (:func:`auth_for` with a plain token);
- a service token (``tps_…``, created by an admin) is never sent to the task-service: it
  is exchanged at the auth service for a short-lived access token, renewed shortly
  before it expires and once more if a call answers 401 (:class:`ServiceTokenAuth`);
- a password login gives a token pair; :class:`SessionAuth` renews the access token
  with the refresh token before it expires (or after a 401) and hands the new pair to a
  callback, so a CLI can store it. A refresh token the auth service refuses means the
  login is over: :class:`LoginExpiredError`.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx

from taskplane_client.errors import (
    LoginExpiredError,
    TokenExchangeError,
    error_from_response,
)
from taskplane_client.models import Identity, TokenPair

SERVICE_TOKEN_PREFIX = "tps_"  # noqa: S105 - a prefix, not a secret
EXCHANGE_PATH = "/api/v1/auth/service-token"
LOGIN_PATH = "/api/v1/auth/token"
REFRESH_PATH = "/api/v1/auth/refresh"
LOGOUT_PATH = "/api/v1/auth/logout"


def _raise_if_transient(response: httpx.Response) -> None:
    """5xx and 429 from the auth service: the caller's retry policy applies."""
    if response.status_code >= 500 or response.status_code == 429:
        raise error_from_response(response)


def _timeout_of(original: httpx.Request) -> dict[str, Any]:
    """The token call is bounded by the same timeouts as the call it precedes."""
    timeout: dict[str, Any] = original.extensions.get("timeout", {})
    return {"timeout": timeout}


class ServiceTokenAuth(httpx.Auth):
    """``Authorization: Bearer <access token>``, exchanging a ``tps_`` token when given one."""

    requires_response_body = True

    def __init__(self, token: str, auth_url: str | None = None, renew_margin_s: float = 60) -> None:
        if not token:
            raise ValueError("an API token is required (TASKPLANE_TOKEN)")
        self._token = token
        self._exchanges = token.startswith(SERVICE_TOKEN_PREFIX)
        if self._exchanges and not auth_url:
            raise ValueError(
                "a service token (tps_…) needs the auth service's URL (TASKPLANE_AUTH_URL)"
            )
        self._exchange_url = (auth_url or "").rstrip("/") + EXCHANGE_PATH
        self._renew_margin_s = renew_margin_s
        self._access: str | None = None if self._exchanges else token
        self._expires_at = float("inf") if not self._exchanges else 0.0
        self._lock = threading.Lock()

    def _needs_exchange(self) -> bool:
        return self._exchanges and (
            self._access is None or time.monotonic() >= self._expires_at - self._renew_margin_s
        )

    def _exchange_request(self, original: httpx.Request) -> httpx.Request:
        return httpx.Request(
            "POST",
            self._exchange_url,
            json={"token": self._token},
            extensions=_timeout_of(original),
        )

    def _accept(self, response: httpx.Response) -> None:
        _raise_if_transient(response)
        if response.status_code != 200:
            raise TokenExchangeError(
                f"the auth service refused the service token ({response.status_code})"
            )
        body = response.json()
        with self._lock:
            self._access = str(body["access_token"])
            self._expires_at = time.monotonic() + float(body.get("expires_in", 300))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._needs_exchange():
            self._accept((yield self._exchange_request(request)))
        request.headers["Authorization"] = f"Bearer {self._access}"
        response = yield request
        if response.status_code == 401 and self._exchanges:
            self._accept((yield self._exchange_request(request)))
            request.headers["Authorization"] = f"Bearer {self._access}"
            yield request


class SessionAuth(httpx.Auth):
    """A password login's token pair, refreshed before the access token expires.

    ``expires_at`` is wall-clock (seconds since the epoch) because the pair outlives the
    process when a CLI stores it; ``on_refresh`` receives each new pair.
    """

    requires_response_body = True

    def __init__(
        self,
        tokens: TokenPair,
        auth_url: str,
        *,
        expires_at: float | None = None,
        on_refresh: Callable[[TokenPair, float], None] | None = None,
        renew_margin_s: float = 30,
    ) -> None:
        self.tokens = tokens
        self.expires_at = expires_at if expires_at is not None else time.time() + tokens.expires_in
        self._refresh_url = auth_url.rstrip("/") + REFRESH_PATH
        self._on_refresh = on_refresh
        self._renew_margin_s = renew_margin_s
        self._lock = threading.Lock()

    def _refresh_request(self, original: httpx.Request) -> httpx.Request:
        return httpx.Request(
            "POST",
            self._refresh_url,
            json={"refresh_token": self.tokens.refresh_token},
            extensions=_timeout_of(original),
        )

    def _accept(self, response: httpx.Response) -> None:
        _raise_if_transient(response)
        if response.status_code != 200:
            raise LoginExpiredError("your login has expired or was ended; log in again")
        with self._lock:
            self.tokens = TokenPair.model_validate(response.json())
            self.expires_at = time.time() + self.tokens.expires_in
        if self._on_refresh is not None:
            self._on_refresh(self.tokens, self.expires_at)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if time.time() >= self.expires_at - self._renew_margin_s:
            self._accept((yield self._refresh_request(request)))
        request.headers["Authorization"] = f"Bearer {self.tokens.access_token}"
        response = yield request
        if response.status_code == 401:
            self._accept((yield self._refresh_request(request)))
            request.headers["Authorization"] = f"Bearer {self.tokens.access_token}"
            yield request


def auth_for(token: str | None, auth_url: str | None = None) -> httpx.Auth | None:
    """The auth for a configured token: none, a JWT as it is, or a service token exchanged."""
    return ServiceTokenAuth(token, auth_url) if token else None


def identity(access_token: str) -> Identity:
    """The claims of a JWT access token, read without verifying it (for display only)."""
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise ValueError("not a JWT access token") from exc
    return Identity.model_validate(claims)
