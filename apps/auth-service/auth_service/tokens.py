"""Issuing access tokens (ES256 JWTs) and opaque secrets (refresh and service tokens)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

import jwt

from auth_service.config import Settings
from auth_service.keys import KeyStore
from auth_service.kubernetes import ServiceAccount
from auth_service.models import ServiceToken
from taskplane_common.revocations import EPOCH_CLAIM
from taskplane_common.token_verifier import (
    ALGORITHM,
    KNOWN_SCOPES,
    QUEUE_CLAIM,
    scope_string,
)

SERVICE_TOKEN_PREFIX = "tps_"  # noqa: S105 - a prefix that lets secret scanners spot leaks


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """SHA-256 is enough for 256-bit random secrets (no dictionary to attack)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def service_subject(token_id: uuid.UUID) -> str:
    """The ``sub`` of access tokens exchanged for service token ``token_id``."""
    return f"service:{token_id}"


class TokenIssuer:
    def __init__(self, keys: KeyStore, settings: Settings) -> None:
        self.keys = keys
        self.settings = settings

    async def _sign(self, subject: str, epoch: int, extra: dict[str, Any]) -> str:
        """``epoch``: the subject's revocation epoch now (``crud.subject_epoch``)."""
        kid, key = await self.keys.signing_key()
        now = int(time.time())
        claims = {
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + self.settings.access_token_ttl_s,
            "jti": uuid.uuid4().hex,
            EPOCH_CLAIM: epoch,
            **extra,
        }
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})

    async def for_user(self, account: Mapping[str, Any], epoch: int) -> str:
        """``account``: the user's row (``id``, ``email``, ``full_name``, ``role``).
        Admins carry every scope so they can run any queue call themselves."""
        scopes = KNOWN_SCOPES if account["role"] == "admin" else frozenset()
        return await self._sign(
            str(account["id"]),
            epoch,
            {
                "token_use": "user",
                "email": account["email"],
                "name": account["full_name"],
                "roles": [account["role"]],
                "scope": scope_string(scopes),
            },
        )

    async def for_service_account(
        self, account: ServiceAccount, scopes: frozenset[str], queue: str | None, epoch: int
    ) -> str:
        """A Kubernetes workload's token; a worker's is bound to its one queue."""
        extra: dict[str, Any] = {
            "token_use": "kubernetes",
            "name": account.username,
            "roles": [],
            "scope": scope_string(scopes),
        }
        if queue is not None:
            extra[QUEUE_CLAIM] = queue
        return await self._sign(account.username, epoch, extra)

    async def for_service(self, token: ServiceToken, epoch: int) -> str:
        return await self._sign(
            service_subject(token.id),
            epoch,
            {
                "token_use": "service",
                "name": token.name,
                "roles": [],
                "scope": scope_string(token.scopes),
            },
        )
