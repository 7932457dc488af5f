"""Encryption at rest of the secrets the service must keep (webhook signing secrets).

Envelope encryption: every webhook row has its own random 256-bit data key; its secrets
are sealed with AES-GCM under that key (the row id as associated data, so a ciphertext
copied to another row does not open), and the data key is stored *wrapped* by a
key-encryption key (KEK) that never touches the database:

* ``LocalKeyring``: AES-256 KEKs from ``TASKPLANE_SECRETS_KEK`` or the file
  ``TASKPLANE_SECRETS_KEK_FILE`` (the chart mounts its Kubernetes Secret there; the file
  is re-read when it changes, so a rotation needs no restart). The first key wraps,
  every listed key unwraps.
* ``KmsKey``: an AWS KMS key (``TASKPLANE_SECRETS_KMS_KEY_ID``) wraps and unwraps.

Rotating the KEK re-wraps data keys only (a few bytes per row, online, in batches): the
sealed secrets are not touched, so deliveries in flight keep signing.
``python -m notification_service.keys rotate`` does it; ``status`` counts rows per KEK.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import boto3
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import text

from notification_service.config import Settings, get_settings
from notification_service.kek import new_kek, parse_keys
from taskplane_client.commandline import UNREACHABLE, exit_with
from taskplane_common.commandline import ConfigurationError, reported
from taskplane_common.db import Database

VERSION = b"\x01"
NONCE_BYTES = 12
_WRAP_CONTEXT = b"taskplane notification-service data key"
_KMS_CONTEXT = {"purpose": "taskplane-notification-secrets"}
#: Unwrapped data keys kept in memory (a KMS call each otherwise), and for how long.
CACHE_SIZE = 4096
CACHE_TTL_S = 300.0
#: Half-second waits for rows other transactions hold before ``rotate`` gives up.
LOCKED_WAITS = 120


class KeyUnavailableError(RuntimeError):
    """The KEK that wrapped a data key is not configured (or the ciphertext is forged)."""


class RowsLockedError(RuntimeError):
    """Rotation gave up on rows other transactions kept locked; running it again helps."""


class KeyEncryptionKey(Protocol):
    """Wraps data keys under the current KEK and unwraps them under any known one."""

    @property
    def key_id(self) -> str:
        """The id stored next to every data key this KEK wraps."""
        ...

    def wrap(self, data_key: bytes) -> bytes: ...

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes: ...


def _seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def _open(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    if sealed[:1] != VERSION or len(sealed) < 1 + NONCE_BYTES + 16:
        raise KeyUnavailableError("not a sealed value of a known version")
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, associated)
    except InvalidTag as exc:
        raise KeyUnavailableError("the value does not open under this key") from exc


def local_key_id(key: bytes) -> str:
    """A fingerprint naming a local KEK (not the key: one-way, truncated)."""
    return "local:" + hashlib.sha256(b"taskplane-kek-id" + key).hexdigest()[:16]


class LocalKeyring:
    """AES-256 KEKs held in memory: the first wraps, all unwrap."""

    def __init__(self, keys: list[bytes]) -> None:
        self._keys = {local_key_id(key): key for key in keys}
        self._current = local_key_id(keys[0])

    @property
    def key_id(self) -> str:
        return self._current

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def wrap(self, data_key: bytes) -> bytes:
        return _seal(self._keys[self._current], data_key, _WRAP_CONTEXT)

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        key = self._keys.get(key_id)
        if key is None:
            raise KeyUnavailableError(f"KEK {key_id} is not configured")
        return _open(key, wrapped, _WRAP_CONTEXT)


class FileKeyring:
    """A ``LocalKeyring`` read from a file (a mounted Kubernetes Secret), re-read when the
    file changes: Kubernetes updates mounted Secrets in place, so a new KEK reaches
    running pods without a restart."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._ring = self._load()

    def _load(self) -> LocalKeyring:
        stat = self._path.stat()
        self._seen = (stat.st_mtime_ns, stat.st_size)
        return LocalKeyring(parse_keys(self._path.read_text()))

    def _current(self) -> LocalKeyring:
        stat = self._path.stat()
        if (stat.st_mtime_ns, stat.st_size) != self._seen:
            with self._lock:
                self._ring = self._load()
        return self._ring

    @property
    def key_id(self) -> str:
        return self._current().key_id

    def wrap(self, data_key: bytes) -> bytes:
        return self._current().wrap(data_key)

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        ring = self._current()
        if key_id not in ring.key_ids:  # written by a pod that saw a newer file first
            with self._lock:
                self._ring = ring = self._load()
        return ring.unwrap(key_id, wrapped)


class KmsKey:
    """An AWS KMS key as the KEK. KMS ciphertexts name their key, so data keys wrapped
    by an earlier key (or key version) still unwrap while the caller may decrypt."""

    def __init__(self, key_id: str, client: Any) -> None:
        self._key_id = key_id
        self._client = client

    @property
    def key_id(self) -> str:
        return "kms:" + self._key_id

    def wrap(self, data_key: bytes) -> bytes:
        answer = self._client.encrypt(
            KeyId=self._key_id, Plaintext=data_key, EncryptionContext=_KMS_CONTEXT
        )
        return bytes(answer["CiphertextBlob"])

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        if not key_id.startswith("kms:"):
            raise KeyUnavailableError(f"KEK {key_id} is not a KMS key")
        answer = self._client.decrypt(
            CiphertextBlob=wrapped, KeyId=key_id[4:], EncryptionContext=_KMS_CONTEXT
        )
        return bytes(answer["Plaintext"])


class ChainedKek:
    """The current KEK wraps; data keys another kind of KEK wrapped still unwrap, so
    moving from a local KEK to KMS is a rotation like any other."""

    def __init__(self, current: KeyEncryptionKey, earlier: KeyEncryptionKey) -> None:
        self._current = current
        self._earlier = earlier

    @property
    def key_id(self) -> str:
        return self._current.key_id

    def wrap(self, data_key: bytes) -> bytes:
        return self._current.wrap(data_key)

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        kind = self._current.key_id.split(":", 1)[0]
        chosen = self._current if key_id.startswith(kind + ":") else self._earlier
        return chosen.unwrap(key_id, wrapped)


def build_kek(settings: Settings) -> KeyEncryptionKey:
    """KMS when a key id is configured (the local keyring still unwraps what it wrapped
    before), else the keyring file, else the keyring value."""
    local: KeyEncryptionKey = (
        FileKeyring(settings.secrets_kek_file)
        if settings.secrets_kek_file is not None
        else LocalKeyring(parse_keys(settings.secrets_kek.get_secret_value()))
    )
    if not settings.secrets_kms_key_id:
        return local
    client = boto3.client(
        "kms",
        region_name=settings.secrets_kms_region,
        endpoint_url=settings.secrets_kms_endpoint_url,
    )
    return ChainedKek(KmsKey(settings.secrets_kms_key_id, client), local)


@dataclass(frozen=True)
class DataKey:
    """A row's data key: in the clear for sealing now, wrapped for the row."""

    plain: bytes
    wrapped: bytes
    kek_id: str


class SecretBox:
    """Seals and opens a row's secrets; caches unwrapped data keys for a few minutes."""

    def __init__(self, kek: KeyEncryptionKey) -> None:
        self.kek = kek
        self._cache: OrderedDict[tuple[str, bytes], tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def new_data_key(self) -> DataKey:
        plain = AESGCM.generate_key(bit_length=256)
        return DataKey(plain, self.kek.wrap(plain), self.kek.key_id)

    @staticmethod
    def seal(data_key: bytes, row_id: uuid.UUID, secret: str) -> bytes:
        return _seal(data_key, secret.encode(), row_id.bytes)

    @staticmethod
    def open(data_key: bytes, row_id: uuid.UUID, sealed: bytes) -> str:
        return _open(data_key, sealed, row_id.bytes).decode()

    def data_key(self, kek_id: str, wrapped: bytes) -> bytes:
        """The row's data key in the clear (cached: KMS would be a call per delivery)."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get((kek_id, wrapped))
            if hit is not None and hit[0] > now:
                return hit[1]
        plain = self.kek.unwrap(kek_id, wrapped)
        with self._lock:
            self._cache[(kek_id, wrapped)] = (now + CACHE_TTL_S, plain)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return plain

    async def open_all(
        self, kek_id: str, wrapped: bytes, row_id: uuid.UUID, sealed: list[bytes]
    ) -> list[str]:
        """A row's secrets in the clear (unwrapping may be a KMS call: off the loop)."""
        data_key = await asyncio.to_thread(self.data_key, kek_id, wrapped)
        return [self.open(data_key, row_id, bytes(item)) for item in sealed]

    def rewrap(self, kek_id: str, wrapped: bytes) -> tuple[bytes, str]:
        """The same data key wrapped by the current KEK."""
        return self.kek.wrap(self.kek.unwrap(kek_id, wrapped)), self.kek.key_id


# Rotation: re-wrap every data key under the current KEK, online.

_STALE = text(
    """
    SELECT id, kek_id, data_key FROM notifications.webhooks
    WHERE kek_id <> :current
    ORDER BY id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
    """
)
_REWRAP = text(
    "UPDATE notifications.webhooks SET data_key = :wrapped, kek_id = :kek_id WHERE id = :id"
)
_COUNTS = text(
    "SELECT kek_id, count(*) AS n FROM notifications.webhooks GROUP BY kek_id ORDER BY kek_id"
)


async def rewrap_all(database: Database, box: SecretBox, batch: int = 100) -> int:
    """Re-wrap every data key not under the current KEK, ``batch`` rows per transaction
    (rows someone holds are skipped and picked up by a later pass); returns the count."""
    total, waits = 0, 0
    while True:
        current = box.kek.key_id
        async with database.session() as session:
            rows = (await session.execute(_STALE, {"current": current, "batch": batch})).all()
            for row in rows:
                wrapped, kek_id = await asyncio.to_thread(box.rewrap, row.kek_id, row.data_key)
                await session.execute(_REWRAP, {"wrapped": wrapped, "kek_id": kek_id, "id": row.id})
        total += len(rows)
        if rows:
            continue
        async with database.session() as session:
            left: dict[str, int] = {row.kek_id: row.n for row in await session.execute(_COUNTS)}
        stale = sum(n for kek_id, n in left.items() if kek_id != current)
        if stale == 0:
            return total
        waits += 1
        if waits > LOCKED_WAITS:
            raise RowsLockedError(
                f"{stale} row(s) stayed locked under older KEKs: run rotate again"
            )
        await asyncio.sleep(0.5)  # rows locked by a request right now: try again


async def key_counts(database: Database) -> dict[str, int]:
    async with database.session() as session:
        return {row.kek_id: row.n for row in await session.execute(_COUNTS)}


def _kek(settings: Settings) -> KeyEncryptionKey:
    """``build_kek``, with an unreadable keyring named by its setting."""
    try:
        return build_kek(settings)
    except (OSError, ValueError) as exc:
        source = (
            "TASKPLANE_SECRETS_KEK_FILE"
            if settings.secrets_kek_file is not None
            else "TASKPLANE_SECRETS_KEK"
        )
        raise ConfigurationError(f"{source}: {exc}") from exc


async def _run(command: str, batch: int) -> None:
    settings = get_settings()
    box = SecretBox(_kek(settings))
    database = Database(settings)
    try:
        if command == "rotate":
            done = await rewrap_all(database, box, batch)
            print(f"re-wrapped {done} data key(s) under {box.kek.key_id}")
        for kek_id, count in (await key_counts(database)).items():
            mark = " (current)" if kek_id == box.kek.key_id else ""
            print(f"{kek_id}: {count} row(s){mark}")
    finally:
        await database.dispose()


def _batch(text: str) -> int:
    """``--batch``: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def main() -> None:
    """``python -m notification_service.keys rotate|status|new``; a missing setting or an
    unreachable database is one line on stderr (exit 2 or 1), never a traceback."""
    parser = argparse.ArgumentParser(prog="notification_service.keys", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rotate = sub.add_parser("rotate", help="re-wrap every data key under the current KEK")
    rotate.add_argument(
        "--batch",
        type=_batch,
        default=100,
        help="rows per transaction, at least 1 (default 100)",
    )
    sub.add_parser("status", help="rows per KEK")
    sub.add_parser("new", help="print a fresh KEK (base64 of 32 random bytes)")
    args = parser.parse_args()
    if args.command == "new":
        print(new_kek())
        return
    with reported(parser.prog):
        try:
            asyncio.run(_run(args.command, getattr(args, "batch", 100)))
        except RowsLockedError as exc:
            exit_with(parser.prog, str(exc), UNREACHABLE)


if __name__ == "__main__":
    main()
