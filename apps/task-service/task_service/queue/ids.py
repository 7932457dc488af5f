"""Sequential keys for queue tasks: UUIDv7 (RFC 9562), made here.

A task's public id stays a UUID, but one that starts with the time it was made, so a
batch's primary-key entries go to the index's rightmost pages instead of random ones.
"""

from __future__ import annotations

import os
import time
import uuid

#: Version 7 (bits 76-79) and the RFC variant ``10`` (bits 62-63).
_VERSION_AND_VARIANT = 0x7 << 76 | 0x2 << 62
_RANDOM_BITS = (1 << 62) - 1


def uuid7s(count: int) -> list[uuid.UUID]:
    """``count`` UUIDv7s of this millisecond, in increasing order: a 48-bit Unix time
    in milliseconds, a 12-bit sequence number (``rand_a``) and 62 random bits."""
    prefix = ((time.time_ns() // 1_000_000) & ((1 << 48) - 1)) << 80 | _VERSION_AND_VARIANT
    noise = os.urandom(8 * count)
    return [
        uuid.UUID(
            int=prefix
            | (n & 0xFFF) << 64
            | int.from_bytes(noise[8 * n : 8 * n + 8], "big") & _RANDOM_BITS
        )
        for n in range(count)
    ]
