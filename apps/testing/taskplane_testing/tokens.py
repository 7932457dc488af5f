"""Mint access tokens and serve their JWKS in-process, for the tests of every service.

Tests of services other than the auth-service need real ES256 tokens but no running
auth-service: :class:`TokenFactory` holds signing keys, publishes them (and a revocation
list) through an ``httpx.MockTransport`` and builds a :class:`JwksTokenVerifier` that
fetches from it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from taskplane_common.revocations import REVOCATIONS_PATH, revocations_url_for, subject_digest
from taskplane_common.token_verifier import JwksTokenVerifier, scope_string

JWKS_URL = "http://auth-service.test/.well-known/jwks.json"
ISSUER = "taskplane-auth"
AUDIENCE = "taskplane"


class TokenFactory:
    """Signing keys, a JWKS endpoint over them and a token minter."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.kid = self.add_key()
        self.jwks_requests = 0
        #: subject -> (epoch, version): what the revocation list serves.
        self.revoked: dict[str, tuple[int, int]] = {}
        self.version = 0

    def revoke(self, subject: str) -> None:
        """Refuse the subject's tokens minted so far (what the auth-service does)."""
        self.version += 1
        self.revoked[subject] = (self.revoked.get(subject, (0, 0))[0] + 1, self.version)

    def revocations(self, since: int) -> dict[str, Any]:
        items = [
            {
                "subject_sha256": subject_digest(subject),
                "epoch": epoch,
                "revoked_at": datetime.now(UTC).isoformat(),
                "version": version,
            }
            for subject, (epoch, version) in self.revoked.items()
            if version > since
        ]
        return {"version": self.version, "window_s": 1800, "more": False, "items": items}

    def add_key(self) -> str:
        """A new P-256 key, published and used for signing from now on."""
        kid = uuid.uuid4().hex
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        self.kid = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": "ES256", "use": "sig"})
        return {"keys": keys}

    def document(self, path: str) -> dict[str, Any]:
        """What the auth-service answers at ``path`` (with its query): the revocation
        list at its path, the JWKS anywhere else."""
        url = httpx.URL(path)
        if url.path == REVOCATIONS_PATH:
            return self.revocations(int(url.params.get("since", "0")))
        self.jwks_requests += 1
        return self.jwks()

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json=self.document(str(request.url)))

        return httpx.MockTransport(handler)

    def verifier(self, **kwargs: Any) -> JwksTokenVerifier:
        options: dict[str, Any] = {
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "revocations_url": revocations_url_for(JWKS_URL),
            **kwargs,
        }
        return JwksTokenVerifier(
            JWKS_URL, http_client=httpx.AsyncClient(transport=self.transport()), **options
        )

    def claims(
        self,
        user_id: uuid.UUID | str | None = None,
        *,
        roles: Iterable[str] = ("member",),
        scopes: Iterable[str] = (),
        **overrides: Any,
    ) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id or uuid.uuid4()),
            "iat": now,
            "nbf": now,
            "exp": now + 900,
            "jti": uuid.uuid4().hex,
            "roles": list(roles),
            "scope": scope_string(scopes),
        }
        claims.update(overrides)
        return claims

    def token(
        self,
        user_id: uuid.UUID | str | None = None,
        *,
        kid: str | None = None,
        roles: Iterable[str] = ("member",),
        scopes: Iterable[str] = (),
        **overrides: Any,
    ) -> str:
        kid = kid or self.kid
        claims = self.claims(user_id, roles=roles, scopes=scopes, **overrides)
        return jwt.encode(claims, self.keys[kid], algorithm="ES256", headers={"kid": kid})

    def service_token(self, *scopes: str) -> str:
        subject = f"service:{uuid.uuid4()}"
        return self.token(subject, roles=(), scopes=scopes, token_use="service")


def bearer(token: str) -> dict[str, str]:
    """Request headers carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}
