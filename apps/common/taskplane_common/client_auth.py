"""Authentication for taskplane's own API clients: workers, the operator and the CLI.

``TASKPLANE_TOKEN`` is either an access token (a JWT, used as it is) or an opaque
service token (``tps_…``) that an admin created. Service tokens are never sent to the
task-service: they are exchanged at the auth service for a short-lived access token,
which is renewed shortly before it expires and once more if a call answers 401 (for
instance after a key rotation or a clock jump).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator

import httpx

SERVICE_TOKEN_PREFIX = "tps_"  # noqa: S105 - a prefix, not a secret
EXCHANGE_PATH = "/api/v1/auth/service-token"


class TokenExchangeError(RuntimeError):
    """The auth service refused the service token or could not be reached."""


class ServiceTokenAuth(httpx.Auth):
    """``httpx`` auth that sends ``Authorization: Bearer <access token>``."""

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
        """The exchange call, bounded by the same timeouts as the call it precedes."""
        return httpx.Request(
            "POST",
            self._exchange_url,
            json={"token": self._token},
            extensions={"timeout": original.extensions.get("timeout", {})},
        )

    def _accept(self, response: httpx.Response) -> None:
        if response.status_code >= 500 or response.status_code == 429:
            response.raise_for_status()  # transient: the caller's retry policy applies
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
