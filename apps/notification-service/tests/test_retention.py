"""The retention cleaner deletes exactly the expired rows (finished deliveries with their
attempts after 30 days, notifications read 90 days ago), in bounded batches, skipping a
row someone holds, while new rows keep arriving and being read."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI
from sqlalchemy import insert

from notification_service import metrics
from notification_service.models import Delivery, DeliveryAttempt, Notification
from notification_service.retention import CLEAN_DELIVERIES, retention_cleaner
from taskplane_testing.tokens import TokenFactory, bearer

BATCH = 3
EVENT_IDS = count(1)


def delivery(status: str, finished_days_ago: float | None, attempts: int = 2) -> dict[str, Any]:
    now = datetime.now(UTC)
    finished = None if finished_days_ago is None else now - timedelta(days=finished_days_ago)
    return {
        "id": uuid.uuid4(),
        "channel": "email",
        "user_id": uuid.uuid4(),
        "recipient": "someone@example.com",
        "event_id": next(EVENT_IDS),
        "event_type": "task.completed",
        "event_occurred_at": now - timedelta(days=40),
        "payload": "{}",
        "status": status,
        "attempts": attempts,
        "max_attempts": 10,
        "finished_at": finished,
        "created_at": now - timedelta(days=40),
    }


def attempts_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "delivery_id": row["id"],
            "attempt": n,
            "started_at": row["created_at"],
            "duration_ms": 5,
            "outcome": "delivered",
        }
        for n in range(1, row["attempts"] + 1)
    ]


def note(user: uuid.UUID, read_days_ago: float | None) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": uuid.uuid4(),
        "user_id": user,
        "event_id": next(EVENT_IDS),
        "kind": "task.completed",
        "title": "t",
        "body": "b",
        "read": read_days_ago is not None,
        "read_at": None if read_days_ago is None else now - timedelta(days=read_days_ago),
        "created_at": now - timedelta(days=200),
    }


def deleted(table: str) -> float:
    value = metrics.RETENTION_DELETED.labels(table)._value.get()
    return float(value)


async def test_cleaner_deletes_exactly_the_expired_rows_in_batches_under_traffic(
    app: FastAPI,
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    db: psycopg.Connection[Any],
    notify_db_url: str,
) -> None:
    user = uuid.uuid4()
    headers = bearer(tokens.token(str(user)))
    expired = [delivery("succeeded", 31) for _ in range(7)] + [delivery("failed", 45)]
    kept = [
        delivery("succeeded", 29),
        delivery("pending", None),  # never deleted, however old
        delivery("delivering", None),
    ]
    old_read = [note(user, 91) for _ in range(5)]
    kept_notes = [note(user, None), note(user, 89)]
    database = app.state.database
    async with database.session() as session:
        await session.execute(insert(Delivery), expired + kept)
        await session.execute(
            insert(DeliveryAttempt), [a for row in expired + kept for a in attempts_of(row)]
        )
        await session.execute(insert(Notification), old_read + kept_notes)
    held = expired[0]["id"]
    before = {t: deleted(t) for t in ("deliveries", "delivery_attempts", "notifications")}

    cleaner = retention_cleaner(
        app.state.settings.model_copy(update={"retention_batch": BATCH}), database
    )
    fresh: list[uuid.UUID] = []
    done = asyncio.Event()

    async def traffic() -> None:
        """New deliveries and notifications arrive, and people read theirs."""
        while not done.is_set():
            row, unread = delivery("succeeded", 0), note(user, None)
            async with database.session() as session:
                await session.execute(insert(Delivery), [row])
                await session.execute(insert(Notification), [unread])
            read = await client.patch(
                f"/api/v1/notifications/{unread['id']}", json={"read": True}, headers=headers
            )
            assert read.status_code == 200, read.text
            fresh.extend([row["id"], unread["id"]])
            await asyncio.sleep(0.01)

    with psycopg.connect(notify_db_url) as holder:
        # Someone holds one expired delivery: skipped, not waited for.
        holder.execute("SELECT 1 FROM notifications.deliveries WHERE id = %s FOR UPDATE", (held,))
        flowing = asyncio.create_task(traffic())
        try:
            async with database.session() as session:
                one = (
                    await session.execute(
                        CLEAN_DELIVERIES, {"delivery_retention_days": 30, "batch": BATCH}
                    )
                ).one()
            assert (one.deliveries, one.delivery_attempts) == (BATCH, 2 * BATCH), "one batch"
            first = await cleaner.clean_all()
        finally:
            done.set()
            await flowing
        holder.rollback()
    assert first == {"deliveries": 4, "delivery_attempts": 8, "notifications": 5}
    assert await cleaner.clean_all() == {
        "deliveries": 1,
        "delivery_attempts": 2,
        "notifications": 0,
    }

    left = {r[0] for r in db.execute("SELECT id FROM notifications.deliveries").fetchall()}
    assert left == {row["id"] for row in kept} | {i for i in fresh if i in left}
    assert not left & {row["id"] for row in expired}
    assert db.execute(
        "SELECT count(*) FROM notifications.delivery_attempts WHERE delivery_id = ANY(%s)",
        ([row["id"] for row in expired],),
    ).fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM notifications.delivery_attempts").fetchone() == (
        sum(row["attempts"] for row in kept),
    )
    notes = {r[0] for r in db.execute("SELECT id FROM notifications.notifications").fetchall()}
    assert notes >= {n["id"] for n in kept_notes}
    assert not notes & {n["id"] for n in old_read}
    assert fresh
    assert set(fresh) <= left | notes, "nothing recent was touched"
    assert {t: deleted(t) - before[t] for t in before} == {  # all but the batch run by hand
        "deliveries": len(expired) - BATCH,
        "delivery_attempts": 2 * (len(expired) - BATCH),
        "notifications": len(old_read),
    }
