"""Dispatcher decisions that need days to happen for real: disabling a subscription that
keeps failing, and an SMTP server that is down."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi import FastAPI

from notification_service.config import Settings
from notification_service.dispatcher import Dispatcher, backoff_s
from notification_service.senders import Email, send_email
from taskplane_testing.postgres import free_port


async def test_a_subscription_failing_for_days_is_disabled_and_its_owner_told(
    app: FastAPI, db: psycopg.Connection[Any]
) -> None:
    owner, hook = uuid.uuid4(), uuid.uuid4()
    since = datetime.now(UTC) - timedelta(days=4)
    box = app.state.secret_box
    key = box.new_data_key()
    db.execute(
        "INSERT INTO notifications.webhooks (id, owner_id, url, events, secret_sealed, "
        "data_key, kek_id, failing_since) "
        "VALUES (%s, %s, 'https://example.com/h', ARRAY['task.failed'], %s, %s, %s, %s)",
        (hook, owner, box.seal(key.plain, hook, "whsec_x"), key.wrapped, key.kek_id, since),
    )
    dispatcher = Dispatcher(app.state.settings, app.state.database, asyncio.Event(), box)
    async with app.state.database.session() as session:
        await dispatcher._track_health(session, hook, ok=False, now=datetime.now(UTC))
    await dispatcher.client.aclose()
    row = db.execute(
        "SELECT enabled, disabled_reason FROM notifications.webhooks WHERE id = %s", (hook,)
    ).fetchone()
    assert row is not None
    assert row[0] is False
    assert "failed since" in row[1]
    notes = db.execute(
        "SELECT kind, data->>'webhook_id' FROM notifications.notifications WHERE user_id = %s",
        (owner,),
    ).fetchall()
    assert notes == [("webhook.disabled", str(hook))]


async def test_an_smtp_server_that_is_down_is_a_retryable_failure() -> None:
    settings = Settings(
        DATABASE_URL="postgresql://unused/db",
        auth_disabled=True,
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_security="none",
    )
    email = Email(to="a@example.com", subject="s", text="t", html="<p>h</p>")
    result = await send_email(settings, email)
    assert not result.ok
    assert not result.permanent
    assert result.error is not None
    assert result.error.startswith("smtp unavailable")


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    settings = Settings(
        DATABASE_URL="postgresql://unused/db",
        auth_disabled=True,
        delivery_backoff_base_s=10,
        delivery_backoff_max_s=100,
    )
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)]:
        delays = [backoff_s(settings, attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1, "jittered"
