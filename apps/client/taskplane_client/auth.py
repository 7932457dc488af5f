"""Authentication of taskplane's API clients: workers, the operator, the CLI, scripts.

Four kinds of credentials, each an ``httpx.Auth`` (:func:`auth_for` picks one from the
configuration, and says in which order):

- an access token (a JWT) is sent as it is (:func:`auth_for` with a plain token);
- a service token (``tps_…``, created by an admin) is never sent to the task-service: it
  is exchanged at the auth service for a short-lived access token, renewed shortly
  before it expires and once more if a call answers 401 (:class:`ServiceTokenAuth`);
- in a Kubernetes pod, the projected ServiceAccount token (audience ``taskplane``) is
  exchanged the same way, its file read again at each exchange because the kubelet
  rotates it (:class:`KubernetesTokenAuth`): no Secret to create or copy;
- a password login gives a token pair; :class:`SessionAuth` renews the access token
  with the refresh token before it expires (or after a 401) and hands the new pair to a
  callback, so a CLI can store it. A refresh token the auth service refuses means the
  login is over: :class:`LoginExpiredError`.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
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
KUBERNETES_EXCHANGE_PATH = "/api/v1/auth/kubernetes-token"
#: Where the ``taskplane`` projected ServiceAccount token volume is mounted in a pod.
DEFAULT_TOKEN_FILE = "/var/run/secrets/taskplane/serviceaccount/token"  # noqa: S105 - a path
TOKEN_FILE_ENV = "TASKPLANE_TOKEN_FILE"  # noqa: S105 - a variable name
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


class _RenewedBearerAuth(httpx.Auth):
    """``Authorization: Bearer <access token>``, the access token got by a POST to the
    auth service at ``renew_url``: renewed ``renew_margin_s`` before it expires and once
    more after a 401. Subclasses say what they present and how they keep the answer."""

    requires_response_body = True

    def __init__(self, renew_url: str, renew_margin_s: float) -> None:
        self._renew_url = renew_url
        self._renew_margin_s = renew_margin_s
        self._lock = threading.Lock()

    def _due(self) -> bool:
        """Whether the access token must be renewed before the request goes out."""
        raise NotImplementedError

    def _renews(self) -> bool:
        """Whether a 401 is worth a renewal (an access token given as it is is not)."""
        return True

    def _renewal_body(self) -> dict[str, str]:
        """What the renewal POST presents to the auth service."""
        raise NotImplementedError

    def _accept(self, response: httpx.Response) -> None:
        """Keep the renewal's answer, or raise why there is none."""
        raise NotImplementedError

    def _access_token(self) -> str | None:
        """The access token the request carries, as last renewed."""
        raise NotImplementedError

    def _renewal_request(self, original: httpx.Request) -> httpx.Request:
        return httpx.Request(
            "POST",
            self._renew_url,
            json=self._renewal_body(),
            extensions=_timeout_of(original),
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._due():
            self._accept((yield self._renewal_request(request)))
        request.headers["Authorization"] = f"Bearer {self._access_token()}"
        response = yield request
        if response.status_code == 401 and self._renews():
            self._accept((yield self._renewal_request(request)))
            request.headers["Authorization"] = f"Bearer {self._access_token()}"
            yield request


class _ExchangedTokenAuth(_RenewedBearerAuth):
    """An access token got by exchanging a credential at the auth service."""

    #: What the credential is called in errors ("service token", ...).
    credential_name = "token"

    def __init__(self, exchange_url: str, renew_margin_s: float) -> None:
        super().__init__(exchange_url, renew_margin_s)
        self._exchanges = True
        self._access: str | None = None
        self._expires_at = 0.0

    def _credential(self) -> str:
        """The credential presented to the auth service, read at each exchange."""
        raise NotImplementedError

    def _due(self) -> bool:
        return self._exchanges and (
            self._access is None or time.monotonic() >= self._expires_at - self._renew_margin_s
        )

    def _renews(self) -> bool:
        return self._exchanges

    def _renewal_body(self) -> dict[str, str]:
        return {"token": self._credential()}

    def _accept(self, response: httpx.Response) -> None:
        _raise_if_transient(response)
        if response.status_code != 200:
            raise TokenExchangeError(
                f"the auth service refused the {self.credential_name} ({response.status_code})"
            )
        body = response.json()
        with self._lock:
            self._access = str(body["access_token"])
            self._expires_at = time.monotonic() + float(body.get("expires_in", 300))

    def _access_token(self) -> str | None:
        return self._access


class ServiceTokenAuth(_ExchangedTokenAuth):
    """A ``tps_`` service token exchanged for access tokens; an access token (JWT) as it is."""

    credential_name = "service token"

    def __init__(self, token: str, auth_url: str | None = None, renew_margin_s: float = 60) -> None:
        if not token:
            raise ValueError("an API token is required (TASKPLANE_TOKEN)")
        super().__init__((auth_url or "").rstrip("/") + EXCHANGE_PATH, renew_margin_s)
        self._token = token
        self._exchanges = token.startswith(SERVICE_TOKEN_PREFIX)
        if self._exchanges and not auth_url:
            raise ValueError(
                "a service token (tps_…) needs the auth service's URL (TASKPLANE_AUTH_URL)"
            )
        if not self._exchanges:
            self._access, self._expires_at = token, float("inf")

    def _credential(self) -> str:
        return self._token


class KubernetesTokenAuth(_ExchangedTokenAuth):
    """A projected ServiceAccount token (audience ``taskplane``) exchanged for access tokens.

    The file is read again at every exchange: the kubelet rewrites it well before the
    token expires, so a long-running pod always presents a current one.
    """

    credential_name = "Kubernetes ServiceAccount token"

    def __init__(
        self, token_file: str | Path, auth_url: str | None, renew_margin_s: float = 60
    ) -> None:
        if not auth_url:
            raise ValueError(
                f"a ServiceAccount token ({token_file}) is exchanged at the auth service: "
                "set TASKPLANE_AUTH_URL"
            )
        super().__init__(auth_url.rstrip("/") + KUBERNETES_EXCHANGE_PATH, renew_margin_s)
        self.token_file = Path(token_file)

    def _credential(self) -> str:
        try:
            token = self.token_file.read_text().strip()
        except OSError as exc:
            raise TokenExchangeError(
                f"cannot read the ServiceAccount token {self.token_file}: {exc.strerror}"
            ) from exc
        if not token:
            raise TokenExchangeError(f"the ServiceAccount token file {self.token_file} is empty")
        return token


class SessionAuth(_RenewedBearerAuth):
    """A password login's token pair, refreshed before the access token expires.

    ``expires_at`` is wall-clock (seconds since the epoch) because the pair outlives the
    process when a CLI stores it; ``on_refresh`` receives each new pair.
    """

    def __init__(
        self,
        tokens: TokenPair,
        auth_url: str,
        *,
        expires_at: float | None = None,
        on_refresh: Callable[[TokenPair, float], None] | None = None,
        renew_margin_s: float = 30,
    ) -> None:
        super().__init__(auth_url.rstrip("/") + REFRESH_PATH, renew_margin_s)
        self.tokens = tokens
        self.expires_at = expires_at if expires_at is not None else time.time() + tokens.expires_in
        self._on_refresh = on_refresh

    def _due(self) -> bool:
        return time.time() >= self.expires_at - self._renew_margin_s

    def _renewal_body(self) -> dict[str, str]:
        return {"refresh_token": self.tokens.refresh_token}

    def _accept(self, response: httpx.Response) -> None:
        _raise_if_transient(response)
        if response.status_code != 200:
            raise LoginExpiredError("your login has expired or was ended; log in again")
        with self._lock:
            self.tokens = TokenPair.model_validate(response.json())
            self.expires_at = time.time() + self.tokens.expires_in
        if self._on_refresh is not None:
            self._on_refresh(self.tokens, self.expires_at)

    def _access_token(self) -> str | None:
        return self.tokens.access_token


def auth_for(
    token: str | None, auth_url: str | None = None, token_file: str | None = None
) -> httpx.Auth | None:
    """The auth a process is configured for, first match wins:

    1. ``token_file``, else ``TASKPLANE_TOKEN_FILE``: a projected ServiceAccount token,
       exchanged at ``auth_url`` (:class:`KubernetesTokenAuth`);
    2. ``token`` (``TASKPLANE_TOKEN``): a service token exchanged, or a JWT as it is;
    3. the projected token at :data:`DEFAULT_TOKEN_FILE` when that file exists (a pod
       with the ``taskplane`` token volume and nothing else configured);
    4. none: no Authorization header.
    """
    token_file = token_file or os.environ.get(TOKEN_FILE_ENV) or None
    if token_file:
        return KubernetesTokenAuth(token_file, auth_url)
    if token:
        return ServiceTokenAuth(token, auth_url)
    if Path(DEFAULT_TOKEN_FILE).is_file():
        return KubernetesTokenAuth(DEFAULT_TOKEN_FILE, auth_url)
    return None


def identity(access_token: str) -> Identity:
    """The claims of a JWT access token, read without verifying it (for display only)."""
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise ValueError("not a JWT access token") from exc
    return Identity.model_validate(claims)
