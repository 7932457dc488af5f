"""Local verification of taskplane access tokens.

Every service verifies ES256 JWTs itself against the auth-service's JWKS; nothing calls
the auth-service per request. The verifier is deliberately strict:

* the algorithm is pinned to ES256 before any key is looked up, so ``alg: none`` and
  HS256-signed-with-the-public-key confusion never reach a signature check;
* only EC P-256 keys from the JWKS are accepted, and every token must name its ``kid``;
* ``exp``, ``nbf``, ``iat``, ``iss``, ``aud``, ``sub`` and ``jti`` are required;
* an unknown ``kid`` triggers a JWKS refetch, at most once per ``min_refetch_interval_s``
  and single-flight, so a flood of forged kids cannot turn into a flood of fetches;
* every request, remembered verdicts included, is checked against the auth-service's
  revocation list (:class:`~taskplane_common.revocations.RevocationList`), so a revoked
  service token, deleted workload binding, disabled user or lowered role stops working
  within a minute, not at ``exp``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from jwt.algorithms import ECAlgorithm

from taskplane_common.errors import ProblemError
from taskplane_common.principals import Principal, invalid_token
from taskplane_common.revocations import (
    RevocationList,
    http_revocations,
    subject_digest,
    token_epoch,
)

log = logging.getLogger(__name__)

ALGORITHM = "ES256"
REQUIRED_CLAIMS = ("exp", "nbf", "iat", "iss", "aud", "sub", "jti")
#: Scopes a service token may carry; admins implicitly hold all of them.
KNOWN_SCOPES = frozenset(
    {"queues:work", "queues:admin", "events:read", "users:read", "workload-bindings:write"}
)
#: The claim binding a workload's access token to one queue.
QUEUE_CLAIM = "taskplane_queue"

KeyResolver = Callable[[str], Any]
_Verdict = tuple[str, EllipticCurvePublicKey, float, Principal, str, int]


def public_key_from_jwk(jwk: Mapping[str, Any]) -> EllipticCurvePublicKey | None:
    """The P-256 public key of a JWK, or None for anything we must not verify with."""
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or "d" in jwk:
        return None
    if jwk.get("alg", ALGORITHM) != ALGORITHM or jwk.get("use", "sig") != "sig":
        return None
    try:
        key = ECAlgorithm.from_jwk(dict(jwk))
    except (jwt.InvalidKeyError, ValueError, TypeError):
        return None
    if not isinstance(key, EllipticCurvePublicKey) or not isinstance(key.curve, SECP256R1):
        return None
    return key


def unverified_kid(token: str) -> str:
    """The token's ``kid`` after refusing any algorithm but ES256 (before any key lookup)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise invalid_token() from exc
    if header.get("alg") != ALGORITHM:
        log.info("token refused: algorithm %r is not %s", header.get("alg"), ALGORITHM)
        raise invalid_token()
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise invalid_token()
    return kid


def decode_token(
    token: str, key: EllipticCurvePublicKey, *, issuer: str, audience: str, leeway_s: float
) -> dict[str, Any]:
    """Verify signature and registered claims; any failure is the same 401."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=leeway_s,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.PyJWTError as exc:
        log.info("token refused: %s", type(exc).__name__)
        raise invalid_token() from exc
    if claims["iat"] > time.time() + leeway_s:
        log.info("token refused: issued in the future")
        raise invalid_token()
    return claims


def _strings(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(item for item in value if isinstance(item, str))
    return frozenset()


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """User tokens carry a UUID ``sub``; service tokens a ``service:<id>`` subject."""
    subject = str(claims["sub"])
    user_id: uuid.UUID | None = None
    if claims.get("token_use", "user") == "user":
        try:
            user_id = uuid.UUID(subject)
        except ValueError as exc:
            raise invalid_token() from exc
    email = claims.get("email")
    name = claims.get("name")
    queue = claims.get(QUEUE_CLAIM)
    return Principal(
        subject=subject,
        roles=_strings(claims.get("roles")),
        scopes=_strings(claims.get("scope")),
        user_id=user_id,
        email=email if isinstance(email, str) else None,
        name=name if isinstance(name, str) else None,
        queue=queue if isinstance(queue, str) else None,
    )


class JwksTokenVerifier:
    """A :class:`~taskplane_common.principals.TokenVerifier` backed by a cached JWKS."""

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        cache_ttl_s: float = 300,
        min_refetch_interval_s: float = 5,
        leeway_s: float = 30,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        verified_cache_size: int = 10_000,
        revocations_url: str | None = None,
        revocations_poll_interval_s: float = 15,
        revocations_max_age_s: float = 60,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.cache_ttl_s = cache_ttl_s
        self.min_refetch_interval_s = min_refetch_interval_s
        self.leeway_s = leeway_s
        self._client = http_client or httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        self._owns_client = http_client is None
        self._clock = clock
        self._keys: dict[str, EllipticCurvePublicKey] = {}
        #: token -> (kid, verifying key, ``exp``, principal, subject digest, epoch), least
        #: recently used first.
        self._verified: OrderedDict[str, _Verdict] = OrderedDict()
        self.revocations = (
            RevocationList(
                http_revocations(self._client, revocations_url),
                poll_interval_s=revocations_poll_interval_s,
                max_age_s=revocations_max_age_s,
                clock=clock,
            )
            if revocations_url
            else None
        )
        self.verified_cache_size = verified_cache_size
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def aclose(self) -> None:
        if self.revocations is not None:
            await self.revocations.aclose()
        if self._owns_client:
            await self._client.aclose()

    async def verify(self, token: str) -> Principal:
        """The token's principal; a token verified before is not verified again.

        An ES256 check is the largest single cost of a small request, and a client sends
        the same token on every request until it expires. A remembered verdict holds while
        the token has not expired (same leeway as the check) and the key that verified it
        is still the current key of its ``kid``: a key dropped from the JWKS or replaced
        forgets every token it verified. Revocation is checked on every call, remembered
        or not.
        """
        remembered = self._verified.pop(token, None)
        if remembered is not None:
            kid, key, expires_at, principal, digest, epoch = remembered
            if time.time() < expires_at + self.leeway_s and await self._current(kid) is key:
                await self._check_revoked(digest, epoch)
                self._verified[token] = remembered
                return principal
        kid = unverified_kid(token)
        key = await self._key(kid)
        claims = decode_token(
            token, key, issuer=self.issuer, audience=self.audience, leeway_s=self.leeway_s
        )
        principal = principal_from_claims(claims)
        digest, epoch = subject_digest(principal.subject), token_epoch(claims)
        await self._check_revoked(digest, epoch)
        self._verified[token] = (kid, key, float(claims["exp"]), principal, digest, epoch)
        if len(self._verified) > self.verified_cache_size:
            self._verified.popitem(last=False)
        return principal

    async def _check_revoked(self, digest: str, epoch: int) -> None:
        if self.revocations is not None:
            await self.revocations.check(digest, epoch)

    async def _current(self, kid: str) -> EllipticCurvePublicKey | None:
        """The current key of ``kid`` (the JWKS refreshed when stale), None if gone."""
        try:
            return await self._key(kid)
        except ProblemError:
            return None

    async def _key(self, kid: str) -> EllipticCurvePublicKey:
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self.cache_ttl_s
        if stale or kid not in self._keys:
            await self._refetch()
        key = self._keys.get(kid)
        if key is None:
            if not self._keys and self._fetched_at is None:
                raise ProblemError(
                    503,
                    "token verification keys are unavailable; retry later",
                    slug="auth-unavailable",
                    headers={"Retry-After": "5"},
                )
            log.info("token refused: unknown kid")
            raise invalid_token()
        return key

    async def _refetch(self) -> None:
        """Fetch the JWKS unless another caller just did (single-flight, rate-limited)."""
        async with self._lock:
            now = self._clock()
            if (
                self._attempted_at is not None
                and now - self._attempted_at < self.min_refetch_interval_s
            ):
                return
            self._attempted_at = now
            self.fetches += 1
            try:
                response = await self._client.get(self.jwks_url)
                response.raise_for_status()
                keys = self._parse(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                # Keep serving the cached keys: a brief auth-service outage must not log
                # everybody out; tokens are short-lived anyway.
                log.warning("could not refresh the JWKS: %s", type(exc).__name__)
                return
            self._keys = keys
            self._fetched_at = now

    @staticmethod
    def _parse(document: Any) -> dict[str, EllipticCurvePublicKey]:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWKS document")
        keys: dict[str, EllipticCurvePublicKey] = {}
        for jwk in document["keys"]:
            if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str):
                key = public_key_from_jwk(jwk)
                if key is not None:
                    keys[jwk["kid"]] = key
        return keys


def scope_string(scopes: Iterable[str]) -> str:
    """The space-separated ``scope`` claim (RFC 8693 §4.2), sorted for stable tokens."""
    return " ".join(sorted(set(scopes)))
