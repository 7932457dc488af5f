"""The text form of key-encryption keys: what ``TASKPLANE_SECRETS_KEK`` and its file hold.

Kept apart from ``keys`` (which uses the settings) so the settings can validate a KEK
without importing the encryption code.
"""

from __future__ import annotations

import base64
import hashlib
import os

from taskplane_common.settings import DEV_SECRET_MARKER

KEY_BYTES = 32


def parse_keys(value: str) -> list[bytes]:
    """KEKs from comma- or newline-separated base64 (32 bytes each), current first.

    A development default (it carries the ``change-me`` marker, which production
    refuses) is hashed into a key instead, so a laptop needs no configuration.
    """
    keys: list[bytes] = []
    for entry in (part.strip() for part in value.replace("\n", ",").split(",")):
        if not entry:
            continue
        if DEV_SECRET_MARKER in entry:
            keys.append(hashlib.sha256(entry.encode()).digest())
            continue
        try:
            key = base64.b64decode(entry, validate=True)
        except ValueError as exc:
            raise ValueError("a KEK must be base64 of 32 random bytes") from exc
        if len(key) != KEY_BYTES:
            raise ValueError("a KEK must be base64 of 32 random bytes")
        keys.append(key)
    if not keys:
        raise ValueError("no KEK given")
    return keys


def new_kek() -> str:
    """A fresh KEK in the form ``parse_keys`` reads (``make run``, the chart, rotation)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()
