"""The HTTP API in process: subscriptions, secrets, SSRF refusals, notifications, bad input."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from taskplane_testing.http import assert_problem
from taskplane_testing.tokens import TokenFactory, bearer

PUBLIC_URL = "http://93.184.215.14/hooks"  # a public address literal: no DNS needed


def _user(tokens: TokenFactory) -> tuple[uuid.UUID, dict[str, str]]:
    user_id = uuid.uuid4()
    return user_id, bearer(tokens.token(user_id))


def _count(db: psycopg.Connection[Any], table: str) -> int:
    row = db.execute(f"SELECT count(*) FROM notifications.{table}").fetchone()  # noqa: S608
    assert row is not None
    return int(row[0])


async def _subscribe(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/webhooks", json={"url": PUBLIC_URL, "events": ["task.failed"]}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_subscription_shows_its_secret_once_and_rotates_with_grace(
    client: httpx.AsyncClient, app: FastAPI, tokens: TokenFactory, db: psycopg.Connection[Any]
) -> None:
    _, headers = _user(tokens)
    hook = await _subscribe(client, headers)
    assert hook["secret"].startswith("whsec_")
    shown = await client.get(f"/api/v1/webhooks/{hook['id']}", headers=headers)
    assert "secret" not in shown.json()
    assert [h["id"] for h in (await client.get("/api/v1/webhooks", headers=headers)).json()] == [
        hook["id"]
    ]

    rotated = await client.post(
        f"/api/v1/webhooks/{hook['id']}/rotate-secret", json={"grace_s": 3600}, headers=headers
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] not in {hook["secret"], None}
    assert datetime.fromisoformat(rotated.json()["previous_secret_expires_at"]) > datetime.now(UTC)
    row = db.execute(
        "SELECT previous_secret_sealed, kek_id, data_key FROM notifications.webhooks WHERE id = %s",
        (hook["id"],),
    ).fetchone()
    assert row is not None
    box = app.state.secret_box
    opened = box.open(box.data_key(row[1], row[2]), uuid.UUID(hook["id"]), row[0])
    assert opened == hook["secret"], "the old secret keeps signing during the grace period"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://[fd00:ec2::254]/", "cloud metadata"),
        ("http://169.254.10.20/hook", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://10.0.0.8/hook", "private"),
        ("http://192.168.1.10:8080/hook", "private"),
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://localhost:9/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("ftp://93.184.215.14/hook", "only http and https"),
        ("http://user:pw@93.184.215.14/hook", "credentials"),
        ("http:///nohost", "no host"),
        ("http://no-such-host.invalid/hook", "does not resolve"),
    ],
)
async def test_forbidden_webhook_urls_are_422_naming_the_reason(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    db: psycopg.Connection[Any],
    url: str,
    reason: str,
) -> None:
    _, headers = _user(tokens)
    response = await client.post(
        "/api/v1/webhooks", json={"url": url, "events": ["task.completed"]}, headers=headers
    )
    body = assert_problem(response, 422)
    assert reason in body["detail"], body
    assert _count(db, "webhooks") == 0


async def test_someone_elses_webhook_or_notification_is_404(
    client: httpx.AsyncClient, tokens: TokenFactory, db: psycopg.Connection[Any]
) -> None:
    owner, owner_headers = _user(tokens)
    _, other = _user(tokens)
    hook = await _subscribe(client, owner_headers)
    base = f"/api/v1/webhooks/{hook['id']}"
    assert_problem(await client.get(base, headers=other), 404)
    assert_problem(await client.patch(base, json={"enabled": False}, headers=other), 404)
    assert_problem(await client.delete(base, headers=other), 404)
    assert_problem(await client.get(f"{base}/deliveries", headers=other), 404)
    assert_problem(await client.post(f"{base}/rotate-secret", headers=other), 404)
    assert_problem(
        await client.post(f"{base}/deliveries/{uuid.uuid4()}/redeliver", headers=owner_headers),
        404,
    )
    note = uuid.uuid4()
    db.execute(
        "INSERT INTO notifications.notifications (id, user_id, kind, title, body) "
        "VALUES (%s, %s, 'task.failed', 't', 'b')",
        (note, owner),
    )
    path = f"/api/v1/notifications/{note}"
    assert_problem(await client.patch(path, json={"read": True}, headers=other), 404)
    assert_problem(
        await client.patch(
            f"/api/v1/notifications/{uuid.uuid4()}", json={"read": True}, headers=owner_headers
        ),
        404,
    )
    assert (await client.patch(path, json={"read": True}, headers=owner_headers)).json()["read"]


async def test_notifications_come_unread_first_in_keyset_pages(
    client: httpx.AsyncClient, tokens: TokenFactory, db: psycopg.Connection[Any]
) -> None:
    user, headers = _user(tokens)
    ids = [uuid.uuid4() for _ in range(5)]
    for minute, note in enumerate(ids):
        db.execute(
            "INSERT INTO notifications.notifications (id, user_id, kind, title, body, created_at)"
            " VALUES (%s, %s, 'task.completed', 't', 'b', %s)",
            (note, user, datetime(2026, 1, 1, 0, minute, tzinfo=UTC)),
        )
    await client.patch(f"/api/v1/notifications/{ids[4]}", json={"read": True}, headers=headers)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/notifications", params=params, headers=headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # unread newest first, then the read one
    assert seen == [str(ids[i]) for i in (3, 2, 1, 0, 4)]
    unread = await client.patch(
        f"/api/v1/notifications/{ids[4]}", json={"read": False}, headers=headers
    )
    assert unread.json()["read"] is False
    assert unread.json()["read_at"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"url": PUBLIC_URL, "events": []},
        {"url": PUBLIC_URL, "events": ["task.exploded"]},
        {"url": PUBLIC_URL, "events": ["task.failed"], "secret": "mine"},
        {"url": "x" * 3000, "events": ["task.failed"]},
        {"events": ["task.failed"]},
    ],
)
async def test_malformed_subscriptions_are_422_and_store_nothing(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    db: psycopg.Connection[Any],
    body: dict[str, Any],
) -> None:
    _, headers = _user(tokens)
    assert_problem(await client.post("/api/v1/webhooks", json=body, headers=headers), 422)
    assert _count(db, "webhooks") == 0


async def test_oversized_bodies_bad_cursors_and_service_tokens_are_refused(
    client: httpx.AsyncClient, tokens: TokenFactory, db: psycopg.Connection[Any]
) -> None:
    _, headers = _user(tokens)
    huge = {"url": PUBLIC_URL, "events": ["task.failed"], "description": "x" * 2_000_000}
    assert_problem(await client.post("/api/v1/webhooks", json=huge, headers=headers), 413)
    assert_problem(
        await client.get("/api/v1/notifications", params={"cursor": "%%%"}, headers=headers), 422
    )
    assert_problem(
        await client.get("/api/v1/notifications", params={"limit": 5000}, headers=headers), 422
    )
    service = bearer(tokens.service_token("events:read"))
    assert_problem(await client.get("/api/v1/notifications", headers=service), 403)
    assert_problem(await client.get("/api/v1/webhooks"), 401)
    assert _count(db, "webhooks") == 0


async def test_redelivery_queues_one_more_attempt_with_the_same_id(
    client: httpx.AsyncClient, tokens: TokenFactory, db: psycopg.Connection[Any]
) -> None:
    user, headers = _user(tokens)
    hook = await _subscribe(client, headers)
    delivery = uuid.uuid4()
    db.execute(
        "INSERT INTO notifications.deliveries (id, channel, webhook_id, user_id, event_id, "
        "event_type, event_occurred_at, payload, status, attempts, max_attempts) "
        "VALUES (%s, 'webhook', %s, %s, 1, 'task.failed', now(), '{}', 'failed', 10, 10)",
        (delivery, hook["id"], user),
    )
    url = f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery}/redeliver"
    assert (await client.post(url, headers=headers)).status_code == 202
    (item,) = (
        await client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=headers)
    ).json()["items"]
    assert item["status"] == "pending"
    assert item["max_attempts"] == 11
    assert item["webhook_message_id"] == f"msg_{delivery.hex}"
