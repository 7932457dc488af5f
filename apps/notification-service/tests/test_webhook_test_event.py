"""``POST /api/v1/webhooks/{id}/test``, the delivery log's ``event_id`` filter and the
unread count: a test delivery reaches a real receiver signed like any other, for its
owner or an admin only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from standardwebhooks.webhooks import Webhook

from taskplane_testing.http import assert_problem
from taskplane_testing.processes import ServiceProcess, wait_until
from taskplane_testing.tokens import TokenFactory, bearer

from .conftest import Platform
from .test_end_to_end import complete_task, deliveries, person, subscribe


def queue_test(
    notifier: ServiceProcess, headers: dict[str, str], hook: dict[str, Any]
) -> httpx.Response:
    return httpx.post(f"{notifier.url}/api/v1/webhooks/{hook['id']}/test", headers=headers)


def test_a_test_event_reaches_the_receiver_signed_and_is_found_by_its_event_id(
    platform: Platform, notifier: ServiceProcess
) -> None:
    user, _, headers = person(platform, task_completed={"webhook": True, "in_app": False})
    path = f"/ok/test-{user}"
    hook = subscribe(notifier, headers, platform.receiver.url(path), "task.completed")
    complete_task(platform, headers)  # a real event beside the test one

    queued = queue_test(notifier, headers, hook)
    assert queued.status_code == 202, queued.text
    delivery = queued.json()
    assert delivery["event_type"] == "webhook.test"
    assert delivery["event_id"] < 0, "no feed event has this id"
    assert delivery["status"] == "pending"
    assert delivery["attempt_log"] == []
    assert queued.headers["location"].endswith(f"deliveries?event_id={delivery['event_id']}")

    def tested() -> list[Any]:
        return [
            r for r in platform.receiver.at(path) if r.webhook_id == delivery["webhook_message_id"]
        ]

    (request,) = wait_until(tested, what="the test delivery at the receiver")
    payload = Webhook(hook["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "webhook.test"
    assert payload["data"] == {
        "event_id": delivery["event_id"],
        "webhook_id": hook["id"],
        "test": True,
    }

    wait_until(lambda: len(deliveries(notifier, headers, hook)) == 2, what="both deliveries")
    log = f"{notifier.url}/api/v1/webhooks/{hook['id']}/deliveries"
    only = httpx.get(log, params={"event_id": delivery["event_id"]}, headers=headers).json()
    assert [d["id"] for d in only["items"]] == [delivery["id"]]
    (real,) = [d for d in deliveries(notifier, headers, hook) if d["id"] != delivery["id"]]
    by_real = httpx.get(log, params={"event_id": real["event_id"]}, headers=headers).json()
    assert [d["id"] for d in by_real["items"]] == [real["id"]]
    wait_until(
        lambda: (
            httpx.get(log, params={"event_id": delivery["event_id"]}, headers=headers).json()[
                "items"
            ][0]["status"]
            == "succeeded"
        ),
        what="the test delivery logged as succeeded",
    )


def test_only_the_owner_or_an_admin_may_test_and_a_disabled_webhook_is_409(
    platform: Platform, notifier: ServiceProcess
) -> None:
    _, _, headers = person(platform)
    hook = subscribe(notifier, headers, platform.receiver.url("/ok/rights"), "task.failed")
    _, _, stranger = person(platform)
    tokens = platform.tokens
    admin = bearer(tokens.token(uuid.uuid4(), roles=("admin",)))
    service = bearer(tokens.service_token("events:read"))

    assert_problem(queue_test(notifier, stranger, hook), 404)
    assert_problem(queue_test(notifier, service, hook), 403)
    assert_problem(queue_test(notifier, headers, {"id": uuid.uuid4()}), 404)
    assert deliveries(notifier, headers, hook) == [], "refusals queue nothing"
    assert queue_test(notifier, admin, hook).status_code == 202

    url = f"{notifier.url}/api/v1/webhooks/{hook['id']}"
    assert httpx.patch(url, json={"enabled": False}, headers=headers).status_code == 200
    body = assert_problem(queue_test(notifier, headers, hook), 409)
    assert "disabled" in body["detail"]
    assert len(deliveries(notifier, headers, hook)) == 1, "only the admin's test is queued"


async def test_the_unread_count_and_a_bad_event_filter(
    client: httpx.AsyncClient, tokens: TokenFactory, db: psycopg.Connection[Any]
) -> None:
    user = uuid.uuid4()
    headers = bearer(tokens.token(user))
    for minute in range(3):
        db.execute(
            "INSERT INTO notifications.notifications (id, user_id, kind, title, body, created_at)"
            " VALUES (%s, %s, 'task.completed', 't', 'b', %s)",
            (uuid.uuid4(), user, datetime(2026, 1, 1, 0, minute, tzinfo=UTC)),
        )
    page = (await client.get("/api/v1/notifications", headers=headers)).json()
    assert (await client.get("/api/v1/notifications/unread-count", headers=headers)).json() == {
        "unread": 3
    }
    await client.patch(
        f"/api/v1/notifications/{page['items'][0]['id']}", json={"read": True}, headers=headers
    )
    assert (await client.get("/api/v1/notifications/unread-count", headers=headers)).json() == {
        "unread": 2
    }
    other = bearer(tokens.token(uuid.uuid4()))
    assert (await client.get("/api/v1/notifications/unread-count", headers=other)).json() == {
        "unread": 0
    }
    hooks = f"/api/v1/webhooks/{uuid.uuid4()}/deliveries"
    assert_problem(await client.get(hooks, params={"event_id": "x"}, headers=headers), 422)
    assert_problem(await client.get(hooks, params={"event_id": 2**63}, headers=headers), 422)
    assert_problem(await client.get(hooks, params={"event_id": 5}, headers=headers), 404)


async def test_the_delivery_log_pages_newest_first_with_attempts_and_filters_by_event(
    client: httpx.AsyncClient, tokens: TokenFactory, db: psycopg.Connection[Any]
) -> None:
    user = uuid.uuid4()
    headers = bearer(tokens.token(user))
    created = await client.post(
        "/api/v1/webhooks",
        json={"url": "http://93.184.215.14/hooks", "events": ["task.failed"]},
        headers=headers,
    )
    hook = created.json()["id"]
    ids = [uuid.uuid4() for _ in range(3)]
    for minute, (delivery, event) in enumerate(zip(ids, (1, 2, 2), strict=True)):
        db.execute(
            "INSERT INTO notifications.deliveries (id, channel, webhook_id, user_id, event_id,"
            " event_type, event_occurred_at, payload, status, attempts, max_attempts, created_at)"
            " VALUES (%s, 'webhook', %s, %s, %s, 'task.failed', now(), '{}', 'pending', %s, 10, %s)"
            " ON CONFLICT DO NOTHING",
            (
                delivery,
                hook,
                user,
                event * 10 + minute,
                minute,
                datetime(2026, 1, 1, 0, minute, tzinfo=UTC),
            ),
        )
    for attempt in (2, 1):
        db.execute(
            "INSERT INTO notifications.delivery_attempts (delivery_id, attempt, started_at,"
            " duration_ms, outcome, status_code) VALUES (%s, %s, now(), 5, 'retry', 500)",
            (ids[2], attempt),
        )
    log = f"/api/v1/webhooks/{hook}/deliveries"
    first = (await client.get(log, params={"limit": 2}, headers=headers)).json()
    assert [d["id"] for d in first["items"]] == [str(ids[2]), str(ids[1])]
    assert [a["attempt"] for a in first["items"][0]["attempt_log"]] == [1, 2]
    assert first["items"][1]["attempt_log"] == []
    assert first["items"][0]["next_attempt_at"] is not None, "pending: its next attempt shows"
    rest = await client.get(
        log, params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
    )
    assert [d["id"] for d in rest.json()["items"]] == [str(ids[0])]
    assert rest.json()["next_cursor"] is None
    one = (await client.get(log, params={"event_id": 21}, headers=headers)).json()
    assert [d["id"] for d in one["items"]] == [str(ids[1])]
    assert_problem(await client.get(log, params={"cursor": "bm90LWpzb24"}, headers=headers), 422)
    stranger = bearer(tokens.token(uuid.uuid4()))
    assert_problem(await client.get(log, headers=stranger), 404)

    # Across my subscriptions: what event 21 caused at each of them, in one call.
    other = await client.post(
        "/api/v1/webhooks",
        json={"url": "http://93.184.215.14/other", "events": ["task.failed"]},
        headers=headers,
    )
    elsewhere = uuid.uuid4()
    db.execute(
        "INSERT INTO notifications.deliveries (id, channel, webhook_id, user_id, event_id,"
        " event_type, event_occurred_at, payload, max_attempts)"
        " VALUES (%s, 'webhook', %s, %s, 21, 'task.failed', now(), '{}', 10)",
        (elsewhere, other.json()["id"], user),
    )
    mine = (await client.get("/api/v1/deliveries", params={"event_id": 21}, headers=headers)).json()
    assert {(d["id"], d["webhook_id"]) for d in mine["items"]} == {
        (str(ids[1]), hook),
        (str(elsewhere), other.json()["id"]),
    }
    every = (await client.get("/api/v1/deliveries", params={"limit": 3}, headers=headers)).json()
    assert [d["id"] for d in every["items"]] == [str(elsewhere), str(ids[2]), str(ids[1])]
    assert (await client.get("/api/v1/deliveries", headers=stranger)).json()["items"] == []
