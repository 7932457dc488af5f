"""Statements run straight through psycopg, prepared once per connection.

The engine's statements are fixed texts, so the ORM and SQLAlchemy's statement
compilation and result processing only cost client CPU on the hot path: ``execute``
runs a named statement as a server-side prepared statement, rows as dicts read by
column name, on an ``Executor``: a session (its own connection, so its transaction and
autocommit setting apply), or a plain psycopg connection, which spares the session's
per-call pool and transaction bookkeeping where a caller holds connections itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from pydantic_core import to_json
from sqlalchemy.ext.asyncio import AsyncSession

Row = dict[str, Any]
#: What the engine's functions run their statements on.
Executor = AsyncSession | psycopg.AsyncConnection[Any]

#: ``:name`` bind parameters (not ``::`` casts), as psycopg's ``%(name)s``.
_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Statement:
    name: str
    #: In psycopg's parameter style, led by a ``-- name`` comment (pg_stat_statements).
    sql: str


def statement(name: str, sql: str) -> Statement:
    """A named statement from SQL with ``:name`` parameters."""
    if "%" in sql:
        raise ValueError(f"statement {name}: a literal % would need escaping")
    return Statement(name, f"-- {name}\n" + _PARAMETER.sub(r"%(\1)s", sql))


def json_param(value: Any) -> str:
    """``value`` as the JSON text of a ``jsonb`` parameter (pydantic-core's encoder:
    compact, and many times the standard library's speed)."""
    return to_json(value).decode()


async def connection_of(session: Executor) -> psycopg.AsyncConnection[Any]:
    """The psycopg connection under ``session`` (its transaction, if any, begun)."""
    if isinstance(session, psycopg.AsyncConnection):
        return session
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
    return driver


async def execute(session: Executor, statement: Statement, params: Mapping[str, Any]) -> list[Row]:
    """Run ``statement`` on the session's connection; its rows, by column name."""
    connection = await connection_of(session)
    async with connection.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(statement.sql, params, prepare=True)
        return await cursor.fetchall() if cursor.description is not None else []
