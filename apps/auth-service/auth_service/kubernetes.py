"""Verifying Kubernetes ServiceAccount tokens, so workloads need no copied secret.

A pod mounts a projected token (audience ``taskplane``, rotated by the kubelet) and
exchanges it for a taskplane access token. Two ways to verify it:

* ``oidc``: the cluster's ServiceAccount issuer publishes an OpenID discovery document
  and a JWKS (EKS and kind both do). Keys are cached for ``auth_kubernetes_jwks_ttl_s``
  and refetched on an unknown ``kid`` (single-flight, at most once per
  ``MIN_REFETCH_INTERVAL_S``), so a forged-kid flood is no fetch flood. The algorithm is
  pinned to the one of the key the ``kid`` names.
* ``tokenreview``: the API server judges the token (a TokenReview with the audience),
  which also refuses tokens of deleted ServiceAccounts and pods.

Every refusal is the same 401; an issuer or API server that cannot be asked is a 503
with ``Retry-After``, never an accepted token.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt

from auth_service.config import Settings
from taskplane_common.errors import ProblemError

log = logging.getLogger(__name__)

#: What kube-apiserver signs ServiceAccount tokens with.
ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"})
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
USERNAME_PREFIX = "system:serviceaccount:"
MIN_REFETCH_INTERVAL_S = 5.0
RETRY_AFTER_S = 10


@dataclass(frozen=True)
class ServiceAccount:
    namespace: str
    name: str
    #: ``metadata.uid``: tells a recreated ServiceAccount of the same name apart.
    uid: str | None = field(default=None, compare=False)

    @property
    def username(self) -> str:
        """How Kubernetes names this identity (the token's ``sub``)."""
        return f"{USERNAME_PREFIX}{self.namespace}:{self.name}"


class ServiceAccountVerifier(Protocol):
    async def verify(self, token: str) -> ServiceAccount: ...

    async def aclose(self) -> None: ...


def refused() -> ProblemError:
    """One answer for every rejected token: the caller learns nothing about which check."""
    return ProblemError(
        401,
        "the ServiceAccount token is invalid, expired or not meant for taskplane",
        slug="invalid-kubernetes-token",
    )


def unavailable(what: str) -> ProblemError:
    return ProblemError(
        503,
        f"{what} cannot be reached to verify the ServiceAccount token; retry later",
        slug="kubernetes-auth-unavailable",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def service_account_of(username: Any) -> ServiceAccount | None:
    """``system:serviceaccount:<namespace>:<name>`` as a ServiceAccount, else None."""
    if not isinstance(username, str) or not username.startswith(USERNAME_PREFIX):
        return None
    namespace, _, name = username.removeprefix(USERNAME_PREFIX).partition(":")
    if not namespace or not name or ":" in name:
        return None
    return ServiceAccount(namespace, name)


def identity_from_claims(claims: Mapping[str, Any]) -> ServiceAccount:
    """The ``kubernetes.io`` claim and ``sub`` must name the same ServiceAccount."""
    kubernetes = claims.get("kubernetes.io")
    account = kubernetes.get("serviceaccount") if isinstance(kubernetes, dict) else None
    if not isinstance(kubernetes, dict) or not isinstance(account, dict):
        raise refused()
    uid = account.get("uid")
    identity = ServiceAccount(
        str(kubernetes.get("namespace", "")),
        str(account.get("name", "")),
        uid if isinstance(uid, str) and uid else None,
    )
    if service_account_of(claims["sub"]) != identity:
        raise refused()
    return identity


class _HttpVerifier:
    """A verifier that asks a server of the cluster (``ca_file`` pins its CA, else the
    system's): one HTTP client for its life, closed with the app."""

    def __init__(self, settings: Settings, issuer: str, ca_file: Path | None) -> None:
        self.settings = settings
        self.issuer = issuer
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(ca_file)) if ca_file is not None else True
        )
        self._client = httpx.AsyncClient(verify=verify, timeout=settings.auth_kubernetes_timeout_s)

    async def aclose(self) -> None:
        await self._client.aclose()


class OidcVerifier(_HttpVerifier):
    """Verifies signatures with the issuer's published keys."""

    def __init__(self, settings: Settings, issuer: str) -> None:
        super().__init__(settings, issuer, settings.auth_kubernetes_ca_file)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> ServiceAccount:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise refused() from exc
        kid = header.get("kid")
        if header.get("alg") not in ALGORITHMS or not isinstance(kid, str) or not kid:
            raise refused()
        key = await self._key(kid)
        if key is None or key.algorithm_name != header["alg"]:
            raise refused()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm_name],
                audience=self.settings.auth_kubernetes_audience,
                issuer=self.issuer,
                leeway=self.settings.jwt_leeway_s,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.PyJWTError as exc:
            log.info("ServiceAccount token refused: %s", type(exc).__name__)
            raise refused() from exc
        return identity_from_claims(claims)

    def _fresh(self, now: float, max_age_s: float) -> bool:
        return self._fetched_at is not None and now - self._fetched_at < max_age_s

    async def _key(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid``, refetching once when stale or unknown."""
        async with self._lock:
            now = time.monotonic()
            fresh = self._fresh(now, self.settings.auth_kubernetes_jwks_ttl_s)
            if fresh and kid in self._keys:
                return self._keys[kid]
            if not self._fresh(now, MIN_REFETCH_INTERVAL_S):
                self._keys = await self._fetch()
                self._fetched_at = now
            return self._keys.get(kid)

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        try:
            jwks_url = self.settings.auth_kubernetes_jwks_url or await self._discover()
            response = await self._client.get(jwks_url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("the ServiceAccount issuer's keys are unavailable: %s", exc)
            raise unavailable("the ServiceAccount issuer") from exc
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(jwk, dict):
                continue
            try:
                key = jwt.PyJWK(jwk)
            except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                continue
            if key.key_id and key.algorithm_name in ALGORITHMS and jwk.get("use", "sig") == "sig":
                keys[key.key_id] = key
        return keys

    async def _discover(self) -> str:
        response = await self._client.get(
            self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        )
        response.raise_for_status()
        document = response.json()
        if document.get("issuer") != self.issuer or not isinstance(document.get("jwks_uri"), str):
            raise ValueError("the discovery document names another issuer or no jwks_uri")
        jwks_uri: str = document["jwks_uri"]
        return jwks_uri


class TokenReviewVerifier(_HttpVerifier):
    """Asks the API server (``authentication.k8s.io/v1`` TokenReview) with this pod's own
    ServiceAccount token, re-read on every call because the kubelet rotates it."""

    def __init__(self, settings: Settings, issuer: str) -> None:
        ca_file = settings.auth_kubernetes_api_ca_file
        super().__init__(settings, issuer, ca_file if ca_file.is_file() else None)
        self._url = (
            settings.auth_kubernetes_api_url.rstrip("/")
            + "/apis/authentication.k8s.io/v1/tokenreviews"
        )

    async def verify(self, token: str) -> ServiceAccount:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise refused() from exc
        if unverified.get("iss") != self.issuer:
            raise refused()  # another cluster's token never reaches our API server
        audience = self.settings.auth_kubernetes_audience
        review = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token, "audiences": [audience]},
        }
        try:
            own_token = self.settings.auth_kubernetes_api_token_file.read_text().strip()
            response = await self._client.post(
                self._url, json=review, headers={"Authorization": f"Bearer {own_token}"}
            )
            response.raise_for_status()
            status = response.json().get("status", {})
        except (OSError, httpx.HTTPError, ValueError, AttributeError) as exc:
            log.warning("TokenReview failed: %s", exc)
            raise unavailable("the Kubernetes API server") from exc
        user = status.get("user") if isinstance(status, dict) else None
        if (
            not isinstance(status, dict)
            or status.get("authenticated") is not True
            or audience not in (status.get("audiences") or [])
            or not isinstance(user, dict)
        ):
            raise refused()
        identity = service_account_of(user.get("username"))
        if identity is None:
            raise refused()
        uid = user.get("uid")
        uid = uid if isinstance(uid, str) and uid else None
        return ServiceAccount(identity.namespace, identity.name, uid)


def build_verifier(settings: Settings) -> ServiceAccountVerifier | None:
    """The configured verifier, or None when the exchange is not enabled."""
    issuer = settings.auth_kubernetes_issuer
    if not issuer:
        return None
    if settings.auth_kubernetes_mode == "tokenreview":
        return TokenReviewVerifier(settings, issuer)
    return OidcVerifier(settings, issuer)
