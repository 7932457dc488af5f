"""The few SQL helpers the peers and runs share (apart from ``databases``, which knows
the peers)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg


async def scalar(connection: psycopg.AsyncConnection[Any], sql: str) -> int:
    row = await (await connection.execute(sql)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


async def counts(url: str, names: Sequence[str], sql: str, ids: Sequence[str]) -> dict[str, int]:
    """One row of counts, by ``names``; ``sql`` takes the jobs' ids as its one parameter,
    a ``bigint[]`` (the run keeps every peer's ids as strings)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        row = await (await connection.execute(sql, ([int(i) for i in ids],))).fetchone()
    assert row is not None
    return dict(zip(names, (int(v) for v in row), strict=True))
