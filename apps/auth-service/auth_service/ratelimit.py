"""Login rate limits, counted in PostgreSQL so every replica shares one budget.

An in-memory counter would be per replica (N replicas = N times the budget, reset on
every restart); one upsert per login attempt is cheap next to an Argon2 verification.
Buckets are keyed by a hash of the email, so the table holds no addresses in clear.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from taskplane_common.errors import ProblemError

_HIT = text(
    """
    INSERT INTO auth.rate_limits AS r (bucket, window_start, count)
    VALUES (:bucket, now(), 1)
    ON CONFLICT (bucket) DO UPDATE SET
        count = CASE WHEN r.window_start <= now() - make_interval(secs => :window)
                     THEN 1 ELSE r.count + 1 END,
        window_start = CASE WHEN r.window_start <= now() - make_interval(secs => :window)
                            THEN now() ELSE r.window_start END
    RETURNING count,
        extract(epoch FROM r.window_start + make_interval(secs => :window) - now())
    """
)
_PEEK = text(
    """
    SELECT count, extract(epoch FROM window_start + make_interval(secs => :window) - now())
    FROM auth.rate_limits
    WHERE bucket = :bucket AND window_start > now() - make_interval(secs => :window)
    """
)


@dataclass(frozen=True)
class Window:
    count: int
    remaining_s: float


def account_bucket(email: str) -> str:
    return "acct:" + hashlib.sha256(email.strip().casefold().encode()).hexdigest()[:40]


def address_bucket(address: str) -> str:
    return "addr:" + address[:90]


async def hit(session: AsyncSession, bucket: str, window_s: int) -> Window:
    row = (await session.execute(_HIT, {"bucket": bucket, "window": window_s})).one()
    return Window(int(row[0]), float(row[1]))


async def peek(session: AsyncSession, bucket: str, window_s: int) -> Window:
    row = (await session.execute(_PEEK, {"bucket": bucket, "window": window_s})).first()
    return Window(int(row[0]), float(row[1])) if row else Window(0, 0.0)


def too_many(window: Window) -> ProblemError:
    retry_after = max(1, math.ceil(window.remaining_s))
    return ProblemError(
        429,
        "too many login attempts; retry later",
        slug="rate-limited",
        headers={"Retry-After": str(retry_after)},
    )
