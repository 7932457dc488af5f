"""The auth-service's retention cleaner deletes exactly the refresh tokens expired past
their retention and the rate-limit windows that ended, in bounded batches, while people
keep logging in (which writes both tables)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from auth_service.retention import CLEAN_REFRESH_TOKENS, RETENTION_DELETED, retention_cleaner
from taskplane_common.retention import RetentionCleaner, batch_delete

from .conftest import PASSWORD, Register

BATCH = 2


def deleted(table: str) -> float:
    return float(RETENTION_DELETED.labels(table)._value.get())


def refresh_token(user_id: str, expired_ago: timedelta) -> tuple[Any, ...]:
    token_id = uuid.uuid4()
    digest = hashlib.sha256(token_id.bytes).hexdigest()
    return (token_id, uuid.uuid4(), user_id, digest, datetime.now(UTC) - expired_ago)


async def test_cleaner_deletes_exactly_the_expired_rows_in_batches_under_logins(
    app: FastAPI, client: httpx.AsyncClient, register: Register, db: psycopg.Connection[Any]
) -> None:
    settings = app.state.settings
    await app.state.retention.stop()  # the app's own pass, at start, would race this one
    user = await register("retention@example.com")
    retention = timedelta(seconds=settings.refresh_token_retention_s)
    window = timedelta(seconds=settings.login_window_s)
    expired = [refresh_token(user["id"], retention + timedelta(hours=1)) for _ in range(5)]
    kept = [
        refresh_token(user["id"], retention - timedelta(hours=1)),  # expired, still kept
        refresh_token(user["id"], -timedelta(days=1)),  # valid
    ]
    with db.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO auth.refresh_tokens (id, family_id, user_id, token_hash, expires_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            expired + kept,
        )
        now = datetime.now(UTC)
        old_windows = [(f"test:old-{i}", now - 2 * window) for i in range(5)]
        open_windows = [(f"test:open-{i}", now - window / 2) for i in range(2)]
        cursor.executemany(
            "INSERT INTO auth.rate_limits (bucket, window_start, count) VALUES (%s, %s, 3)",
            old_windows + open_windows,
        )
    before = {t: deleted(t) for t in ("refresh_tokens", "rate_limits")}
    cleaner = retention_cleaner(
        settings.model_copy(update={"retention_batch": BATCH}), app.state.database
    )
    done = asyncio.Event()
    logins = 0

    async def traffic() -> None:
        nonlocal logins
        while not done.is_set():
            answer = await client.post(
                "/api/v1/auth/token",
                data={"username": "retention@example.com", "password": PASSWORD},
            )
            assert answer.status_code == 200, answer.text
            logins += 1

    flowing = asyncio.create_task(traffic())
    try:
        async with app.state.database.session() as session:
            one = await session.execute(
                CLEAN_REFRESH_TOKENS,
                {"refresh_token_retention_s": settings.refresh_token_retention_s, "batch": BATCH},
            )
            assert one.scalar_one() == BATCH, "one statement deletes one batch"
        await cleaner.clean_all()
        await cleaner.clean_all()
    finally:
        done.set()
        await flowing
    assert logins > 0

    tokens = {row[0] for row in db.execute("SELECT id FROM auth.refresh_tokens").fetchall()}
    assert not tokens & {row[0] for row in expired}
    assert tokens >= {row[0] for row in kept}
    assert len(tokens) == len(kept) + logins, "every login's refresh token is there"
    buckets = {row[0] for row in db.execute("SELECT bucket FROM auth.rate_limits").fetchall()}
    assert not buckets & {bucket for bucket, _ in old_windows}
    assert buckets >= {bucket for bucket, _ in open_windows}
    assert any(bucket.startswith("addr:") for bucket in buckets), "the logins' own window"
    # Each row deleted was counted once.
    assert {t: deleted(t) - before[t] for t in before} == {
        "refresh_tokens": len(expired) - BATCH,
        "rate_limits": len(old_windows),
    }


def test_a_statements_parameters_are_the_settings_of_the_same_name(app: FastAPI) -> None:
    settings = app.state.settings
    cleaner = retention_cleaner(settings, app.state.database)
    assert [rule.params for rule in cleaner.rules] == [
        {"refresh_token_retention_s": settings.refresh_token_retention_s},
        {"login_window_s": settings.login_window_s},
    ]
    misnamed = batch_delete("auth.rate_limits", "rate_limits", "bucket", "count > :most", "bucket")
    with pytest.raises(ValueError, match=r"no setting for the parameters \['most'\]"):
        RetentionCleaner.of(settings, app.state.database, RETENTION_DELETED, misnamed)
