"""``Idempotency-Key``: the first request with a key does the work, its response is
stored (with the change, in the change's statement: ``crud.create_task``), and every
replay within the key's lifetime gets that response back.

The claim and the change run in one transaction on the request's psycopg connection
(:func:`transaction`), so a key is never stored without its change or the reverse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from task_service.queue.driver import statement
from taskplane_common.db import Driver

CLAIM = statement(
    "idempotency_claim",
    "INSERT INTO tasks.idempotency_keys (scope, key, request_hash, expires_at)"
    " VALUES (:scope, :key, :request_hash, :expires_at) ON CONFLICT DO NOTHING RETURNING key",
)
#: An expired key (the cleaner has not deleted it yet) is claimed anew.
RECLAIM = statement(
    "idempotency_reclaim",
    "UPDATE tasks.idempotency_keys SET request_hash = :request_hash, expires_at = :expires_at,"
    " status_code = NULL, response_body = NULL, response_headers = NULL, created_at = now()"
    " WHERE scope = :scope AND key = :key AND expires_at < now() RETURNING key",
)
STORED = statement(
    "idempotency_stored",
    "SELECT request_hash, status_code, response_body, response_headers"
    " FROM tasks.idempotency_keys WHERE scope = :scope AND key = :key",
)


@dataclass(frozen=True)
class StoredResponse:
    request_hash: str
    status_code: int
    body: Any
    headers: dict[str, str]


@asynccontextmanager
async def transaction(db: Driver) -> AsyncIterator[Driver]:
    """One transaction on ``db``'s connection: committed when the block ends, rolled
    back when it raises."""
    async with db.connection.transaction():
        yield db


async def claim_idempotency_key(
    db: Driver, scope: str, key: str, request_hash: str, ttl: timedelta
) -> StoredResponse | None:
    """Reserve ``key`` for this request, or return the response stored by its first use
    (inside :func:`transaction`).

    A concurrent request with the same key blocks on the primary key until the first
    commits, then sees its stored response: exactly one of them does the work.
    """
    params = {
        "scope": scope,
        "key": key,
        "request_hash": request_hash,
        "expires_at": datetime.now(UTC) + ttl,
    }
    while True:
        if await db.fetch(CLAIM.sql, params) or await db.fetch(RECLAIM.sql, params):
            return None
        rows = await db.fetch(STORED.sql, params)
        if rows:
            row = rows[0]
            return StoredResponse(
                row["request_hash"],
                row["status_code"] or 0,
                row["response_body"],
                row["response_headers"] or {},
            )
        # The cleaner deleted the expired key between our statements: claim it anew.
