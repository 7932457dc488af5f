"""The event feed: the outbox read in an order no concurrent commit can break.

Event ids are taken from a sequence when the row is inserted, but transactions commit
in any order, so "id > last id seen" would skip an id that commits after a larger one.
Each event row carries its transaction id (``xid8``); the feed only hands out events
whose transaction is older than every transaction still running
(``tx_id < pg_snapshot_xmin(pg_current_snapshot())``), a set that can only grow at its
end, and orders them by ``(tx_id, id)``. The cursor is that pair, so a consumer that
resumes from it sees every later event exactly once. All events of one transaction are
contiguous, and the events of one task appear in the order its changes committed (each
change locks the task row before its transaction writes anything else).

Retention (the cleaner) deletes a prefix of the feed and records its end, the horizon:
a cursor before it has lost events and is refused (410) instead of silently skipping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from task_service.queue import statements
from task_service.queue.driver import execute
from task_service.queue.errors import FeedCursorExpired
from taskplane_common.errors import ProblemError

START = "0-0"
#: A feed position: the writing transaction's id, a dash, the event id.
EVENT_CURSOR_PATTERN = r"^([0-9]{1,18})-([0-9]{1,18})$"
_CURSOR = re.compile(EVENT_CURSOR_PATTERN)

_READ = text(
    """
    SELECT id, type, task_id, queue, owner_id, data, occurred_at,
           tx_id::text || '-' || id AS cursor, traceparent
    FROM tasks.events
    WHERE (tx_id, id) > (CAST(:tx AS text)::xid8, :id)
      AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY tx_id, id
    LIMIT :limit
    """
)


@dataclass(frozen=True)
class FeedEvent:
    """One event; ``_READ`` answers exactly these columns, the cursor among them."""

    id: int
    type: str
    task_id: Any
    queue: str | None
    owner_id: Any
    data: dict[str, Any]
    occurred_at: datetime
    cursor: str
    traceparent: str | None


def parse_cursor(cursor: str | None) -> tuple[int, int]:
    match = _CURSOR.match(cursor or START)
    if match is None:
        raise ProblemError(422, f"malformed event cursor {cursor!r}", slug="validation-error")
    return int(match.group(1)), int(match.group(2))


async def check_retained(session: AsyncSession, after: tuple[int, int]) -> None:
    """``FeedCursorExpired`` when retention deleted events after this cursor."""
    params = {"tx": str(after[0]), "id": after[1]}
    horizon = await execute(session, statements.FEED_HORIZON, params)
    if horizon and horizon[0]["expired"]:
        raise FeedCursorExpired(f"{after[0]}-{after[1]}", horizon[0]["horizon"])


async def read_events(session: AsyncSession, after: tuple[int, int], limit: int) -> list[FeedEvent]:
    rows = await session.execute(_READ, {"tx": str(after[0]), "id": after[1], "limit": limit})
    return [FeedEvent(**row._mapping) for row in rows]
