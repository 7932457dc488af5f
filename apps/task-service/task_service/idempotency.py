"""``Idempotency-Key``: the first request with a key does the work, its response is
stored (with the change, in the change's statement: ``crud.create_task``), and every
replay within the key's lifetime gets that response back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from task_service.models import IdempotencyKey


@dataclass(frozen=True)
class StoredResponse:
    request_hash: str
    status_code: int
    body: Any
    headers: dict[str, str]


async def claim_idempotency_key(
    session: AsyncSession, scope: str, key: str, request_hash: str, ttl: timedelta
) -> StoredResponse | None:
    """Reserve ``key`` for this request, or return the response stored by its first use.

    A concurrent request with the same key blocks on the primary key until the first
    commits, then sees its stored response: exactly one of them does the work.
    """
    expires = datetime.now(UTC) + ttl
    while True:
        claimed = await session.execute(
            pg_insert(IdempotencyKey)
            .values(scope=scope, key=key, request_hash=request_hash, expires_at=expires)
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.key)
        )
        if claimed.first() is not None:
            return None
        reclaimed = await session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.scope == scope,
                IdempotencyKey.key == key,
                IdempotencyKey.expires_at < func.now(),
            )
            .values(
                request_hash=request_hash,
                expires_at=expires,
                status_code=None,
                response_body=None,
                response_headers=None,
                created_at=func.now(),
            )
            .returning(IdempotencyKey.key)
        )
        if reclaimed.first() is not None:
            return None
        row = (
            await session.execute(
                select(IdempotencyKey).where(
                    IdempotencyKey.scope == scope, IdempotencyKey.key == key
                )
            )
        ).scalar_one_or_none()
        if row is not None:
            return StoredResponse(
                row.request_hash,
                row.status_code or 0,
                row.response_body,
                row.response_headers or {},
            )
        # The cleaner deleted the expired key between our statements: claim it anew.
