"""ES256 signing keys: stored encrypted in the database, rotated without downtime.

The newest unretired key signs; every unretired key is published in the JWKS, so
tokens signed before a rotation keep verifying until their key is retired. Each
replica caches the key list for ``key_cache_ttl_s`` and reloads at once on an unknown
``kid``, so a rotation done through one replica is seen by the others within seconds.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVarTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy import Select, select, text, update

from auth_service.config import Settings
from auth_service.models import SigningKey
from taskplane_common.db import Database
from taskplane_common.errors import ProblemError
from taskplane_common.jsonbody import CachedBody
from taskplane_common.principals import Principal, invalid_token
from taskplane_common.revocations import RevocationList, subject_digest, token_epoch
from taskplane_common.token_verifier import (
    ALGORITHM,
    decode_token,
    principal_from_claims,
    unverified_kid,
)

#: Reloads forced by unknown kids happen at most this often per replica.
MIN_RELOAD_INTERVAL_S = 1.0
#: Short max-age: verifiers cache anyway and refetch on an unknown ``kid``.
JWKS_CACHE_CONTROL = "public, max-age=60"
#: Held while the set of usable keys is changed, so replicas do not race each other.
LOCK_KEYS = text("SELECT pg_advisory_xact_lock(hashtext('auth-signing-key'))")

_Columns = TypeVarTuple("_Columns")


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    public_key: ec.EllipticCurvePublicKey
    public_jwk: dict[str, Any]
    created_at: datetime


class KeyStore:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._password = settings.key_encryption_key.get_secret_value().encode()
        self._keys: list[KeyInfo] = []
        self._private: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()
        self._jwks_body: tuple[list[KeyInfo], CachedBody] | None = None
        #: Set once :meth:`ensure_key` succeeded (the start-up's first task): before, the
        #: database may lack the key, its tables or an answer.
        self._ensured = False

    # -- reading -----------------------------------------------------------------------

    def _fresh(self, force: bool) -> bool:
        """Whether the cached key list may be served (a forced reload still waits
        ``MIN_RELOAD_INTERVAL_S``)."""
        if self._loaded_at is None:
            return False
        limit = MIN_RELOAD_INTERVAL_S if force else self.settings.key_cache_ttl_s
        return time.monotonic() - self._loaded_at < limit

    async def _load(self, *, force: bool = False) -> list[KeyInfo]:
        if self._fresh(force):
            return self._keys  # the common case: no lock taken
        async with self._lock:
            now = time.monotonic()
            if self._fresh(force):
                return self._keys
            async with self.database.session() as session:
                rows = (await session.execute(_unretired(select(SigningKey)))).scalars()
                self._keys = [
                    KeyInfo(
                        row.kid,
                        _public_key(row.public_jwk),
                        row.public_jwk,
                        row.created_at,
                    )
                    for row in rows
                ]
            self._loaded_at = now
            return self._keys

    async def keys(self) -> list[KeyInfo]:
        return await self._load()

    async def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk for key in await self._load()]}

    async def jwks_body(self) -> CachedBody:
        """The JWKS as a JSON body with its ETag and ``Cache-Control``, encoded once per
        loaded key list (every verifier in the platform fetches it). 503 until the
        start-up made sure a key exists: an empty set would be cached by verifiers as
        "no keys", refusing every token until they refetch."""
        self._require_start_up()
        keys = await self._load()
        if not keys:
            await self.signing_key()  # every key gone since the start-up: one is made
            keys = await self._load()
        if self._jwks_body is None or self._jwks_body[0] is not keys:
            document = {"keys": [key.public_jwk for key in keys]}
            self._jwks_body = (keys, CachedBody.of(document, JWKS_CACHE_CONTROL))
        return self._jwks_body[1]

    async def public_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        for reload in (False, True):
            for key in await self._load(force=reload):
                if key.kid == kid:
                    return key.public_key
        return None

    async def signing_key(self) -> tuple[str, ec.EllipticCurvePrivateKey]:
        """The newest unretired key, creating one if the store is empty (503 before the
        start-up made sure a key exists)."""
        self._require_start_up()
        keys = await self._load()
        if not keys:
            await self.ensure_key()
            keys = await self._load(force=True)
        kid = keys[0].kid
        if kid not in self._private:
            async with self.database.session() as session:
                pem = (
                    await session.execute(
                        select(SigningKey.private_key_pem).where(SigningKey.kid == kid)
                    )
                ).scalar_one()
            key = serialization.load_pem_private_key(pem.encode(), password=self._password)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise TypeError("stored signing key is not an EC key")
            self._private[kid] = key
        return kid, self._private[kid]

    # -- changing ----------------------------------------------------------------------

    async def ensure_key(self) -> None:
        """Create a key when none is usable; replicas starting together create one."""
        async with self.database.session() as session:
            await session.execute(LOCK_KEYS)
            existing = (
                await session.execute(
                    select(SigningKey.kid).where(SigningKey.retired_at.is_(None)).limit(1)
                )
            ).first()
            if existing is None:
                session.add(self._new_key())
        self._loaded_at = None
        self._ensured = True

    def _require_start_up(self) -> None:
        if not self._ensured:
            raise still_starting()

    async def rotate(self) -> KeyInfo:
        """Add a key that signs from now on; older keys keep verifying until retired."""
        row = self._new_key()
        async with self.database.session() as session:
            session.add(row)
        self._loaded_at = None
        return next(key for key in await self._load() if key.kid == row.kid)

    async def retire(self, kid: str) -> None:
        async with self.database.session() as session:
            await session.execute(LOCK_KEYS)
            active = (await session.execute(_unretired(select(SigningKey.kid)))).scalars().all()
            if kid not in active:
                raise ProblemError(404, f"no usable signing key {kid}", slug="key-not-found")
            if active[0] == kid:
                raise ProblemError(
                    409,
                    "the current signing key cannot be retired; rotate first",
                    slug="key-in-use",
                )
            await session.execute(
                update(SigningKey).where(SigningKey.kid == kid).values(retired_at=datetime.now(UTC))
            )
        self._loaded_at = None
        self._private.pop(kid, None)

    def _new_key(self) -> SigningKey:
        private = ec.generate_private_key(ec.SECP256R1())
        kid = uuid.uuid4().hex
        jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._password),
        ).decode()
        return SigningKey(
            kid=kid,
            private_key_pem=pem,
            public_jwk={**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"},
            created_at=datetime.now(UTC),
        )


def still_starting() -> ProblemError:
    """The 503 of a replica whose start-up has not succeeded yet: the problem type of a
    database outage, which is what usually keeps it from succeeding."""
    return ProblemError(
        503,
        "the auth-service is still starting (its database has not answered yet); retry later",
        slug="database-unavailable",
        headers={"Retry-After": "2"},
    )


def _unretired(statement: Select[*_Columns]) -> Select[*_Columns]:
    """``statement`` over the usable keys, the one that signs (the newest) first."""
    return statement.where(SigningKey.retired_at.is_(None)).order_by(
        SigningKey.created_at.desc(), SigningKey.kid
    )


def _public_key(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    key = ECAlgorithm.from_jwk(jwk)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise TypeError("stored public key is not an EC public key")
    return key


class KeyStoreVerifier:
    """The auth-service verifies its own tokens straight from its key store, and checks
    them against the revocation list it reads from its own database."""

    def __init__(self, store: KeyStore, settings: Settings, revocations: RevocationList) -> None:
        self.store = store
        self.settings = settings
        self.revocations = revocations

    async def verify(self, token: str) -> Principal:
        kid = unverified_kid(token)
        key = await self.store.public_key(kid)
        if key is None:
            raise invalid_token()
        claims = decode_token(
            token,
            key,
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            leeway_s=self.settings.jwt_leeway_s,
        )
        principal = principal_from_claims(claims)
        await self.revocations.check(subject_digest(principal.subject), token_epoch(claims))
        return principal
