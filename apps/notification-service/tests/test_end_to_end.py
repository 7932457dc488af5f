"""The notification pipeline across real processes: task-service feed, user-service
preferences, notification-service, a real webhook receiver and aiosmtpd."""

from __future__ import annotations

import itertools
import json
import urllib.request
import uuid
from email.message import Message
from typing import Any

import httpx
import psycopg
from standardwebhooks.webhooks import Webhook

from taskplane_testing.notifications import Received, Receiver, SmtpSink, assert_not_in_a_dump
from taskplane_testing.processes import ServiceProcess, wait_until
from taskplane_testing.tokens import bearer

from .conftest import Platform


def person(platform: Platform, **channels: dict[str, bool]) -> tuple[str, str, dict[str, str]]:
    """A user with a profile (and email) in the user-service and these preferences."""
    user_id = str(uuid.uuid4())
    email = f"{user_id[:8]}@example.com"
    headers = bearer(platform.tokens.token(user_id, email=email, name="Tester"))
    base = f"{platform.users.url}/api/v1/users/me"
    assert httpx.get(base, headers=headers).status_code == 200
    events = {name.replace("_", "."): value for name, value in channels.items()}
    response = httpx.put(f"{base}/preferences", json={"events": events}, headers=headers)
    assert response.status_code == 200, response.text
    return user_id, email, headers


def subscribe(notifier: ServiceProcess, headers: dict[str, str], url: str, *events: str) -> Any:
    response = httpx.post(
        f"{notifier.url}/api/v1/webhooks",
        json={"url": url, "events": list(events)},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def rotate_secret(notifier: ServiceProcess, headers: dict[str, str], hook: Any) -> str:
    """A new secret for ``hook``; the old one keeps signing for an hour."""
    rotated = httpx.post(
        f"{notifier.url}/api/v1/webhooks/{hook['id']}/rotate-secret",
        json={"grace_s": 3600},
        headers=headers,
    )
    assert rotated.status_code == 200, rotated.text
    return str(rotated.json()["secret"])


def complete_task(platform: Platform, headers: dict[str, str]) -> str:
    tasks = f"{platform.task.url}/api/v1/tasks"
    created = httpx.post(tasks, json={"title": "notify me"}, headers=headers)
    assert created.status_code == 201, created.text
    task_id = str(created.json()["id"])
    done = httpx.patch(f"{tasks}/{task_id}", json={"status": "completed"}, headers=headers)
    assert done.status_code == 200, done.text
    return task_id


def notifications(
    notifier: ServiceProcess, headers: dict[str, str], kind: str = "task.completed"
) -> list[dict[str, Any]]:
    response = httpx.get(f"{notifier.url}/api/v1/notifications", headers=headers)
    assert response.status_code == 200, response.text
    return [item for item in response.json()["items"] if item["kind"] == kind]


def deliveries(notifier: ServiceProcess, headers: dict[str, str], hook: Any) -> list[Any]:
    url = f"{notifier.url}/api/v1/webhooks/{hook['id']}/deliveries"
    response = httpx.get(url, headers=headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


ALL_ON = {"email": True, "webhook": True, "in_app": True}


def assert_notified_once(
    receiver: Receiver, smtp: SmtpSink, path: str, hook: Any, email: str, task_id: str
) -> tuple[Received, Message]:
    """One signed ``task.completed`` webhook for the task at ``path`` and one email naming
    it; both, for checks of their own."""
    (request,) = receiver.at(path)
    payload = Webhook(hook["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "task.completed"
    assert payload["data"]["task_id"] == task_id
    (message,) = smtp.to(email)
    assert task_id in str(message["Subject"])
    return request, message


def test_completing_a_task_notifies_once_on_every_channel(
    platform: Platform, notifier: ServiceProcess
) -> None:
    user, email, headers = person(platform, task_completed=ALL_ON)
    path = f"/ok/{user}"
    hook = subscribe(notifier, headers, platform.receiver.url(path), "task.completed")
    assert hook["secret"].startswith("whsec_")
    task_id = complete_task(platform, headers)

    wait_until(lambda: len(platform.receiver.at(path)) >= 1, what="the webhook delivery")
    wait_until(lambda: len(platform.smtp.to(email)) >= 1, what="the email")
    wait_until(lambda: len(notifications(notifier, headers)) >= 1, what="the in-app notification")

    # A later user's event is processed after ours: once it shows, ours is complete.
    quiet, quiet_email, quiet_headers = person(
        platform, task_completed={"email": False, "webhook": False, "in_app": True}
    )
    complete_task(platform, quiet_headers)
    wait_until(lambda: len(notifications(notifier, quiet_headers)) == 1, what="the later event")
    wait_until(
        lambda: deliveries(notifier, headers, hook)[0]["status"] == "succeeded",
        what="the delivery log",
    )

    request, message = assert_notified_once(
        platform.receiver, platform.smtp, path, hook, email, task_id
    )
    assert {part.get_content_type() for part in message.walk()} >= {"text/plain", "text/html"}
    (note,) = notifications(notifier, headers)
    assert note["kind"] == "task.completed"
    assert note["read"] is False
    (logged,) = deliveries(notifier, headers, hook)
    assert logged["webhook_message_id"] == request.webhook_id
    assert logged["attempts"] == 1

    assert platform.smtp.to(quiet_email) == []
    with psycopg.connect(platform.db_url) as connection:
        emails = connection.execute(
            "SELECT count(*) FROM notifications.deliveries WHERE channel = 'email' "
            "AND user_id = %s",
            (quiet,),
        ).fetchone()
    assert emails == (0,), "email was switched off: nothing is even queued"


def test_a_failing_receiver_gets_the_delivery_on_the_fourth_attempt(
    platform: Platform, notifier: ServiceProcess
) -> None:
    user, _, headers = person(platform, task_completed={"webhook": True, "in_app": False})
    path = f"/flaky/3/{user}"
    hook = subscribe(notifier, headers, platform.receiver.url(path), "task.completed")
    complete_task(platform, headers)

    wait_until(
        lambda: [d["status"] for d in deliveries(notifier, headers, hook)] == ["succeeded"],
        what="the delivery to succeed",
    )
    (delivery,) = deliveries(notifier, headers, hook)
    log = delivery["attempt_log"]
    assert [a["outcome"] for a in log] == ["retry", "retry", "retry", "delivered"]
    assert [a["status_code"] for a in log] == [500, 500, 500, 200]
    for earlier, later in itertools.pairwise(log):
        assert earlier["next_attempt_at"] > earlier["started_at"], "a backoff was scheduled"
        assert later["started_at"] >= earlier["next_attempt_at"], "and it was waited for"
    received = platform.receiver.at(path)
    assert len(received) == 4
    assert len({r.webhook_id for r in received}) == 1, "webhook-id is stable across retries"
    for request in received:
        Webhook(hook["secret"]).verify(request.body, request.headers)


def test_a_receiver_that_never_answers_does_not_hold_up_others(
    platform: Platform, notifier: ServiceProcess
) -> None:
    user, _, headers = person(platform, task_completed={"webhook": True, "in_app": False})
    hanging = subscribe(notifier, headers, platform.receiver.url(f"/hang/{user}"), "task.completed")
    healthy = f"/ok/healthy-{user}"
    subscribe(notifier, headers, platform.receiver.url(healthy), "task.completed")
    for _ in range(10):
        complete_task(platform, headers)

    wait_until(lambda: len(platform.receiver.at(healthy)) == 10, what="the healthy receiver")
    assert deliveries(notifier, headers, hanging)[0]["attempt_log"] == [], (
        "every delivery to the silent receiver is still waiting for its answer"
    )
    assert 1 <= platform.receiver.max_open_hanging <= 4, "at most 4 in flight per endpoint"


def test_during_a_rotation_both_secrets_verify_and_neither_is_stored_in_the_clear(
    platform: Platform, notifier: ServiceProcess
) -> None:
    user, _, headers = person(platform, task_completed={"webhook": True, "in_app": False})
    path = f"/ok/rotated-{user}"
    hook = subscribe(notifier, headers, platform.receiver.url(path), "task.completed")
    rotated = rotate_secret(notifier, headers, hook)
    complete_task(platform, headers)
    wait_until(lambda: len(platform.receiver.at(path)) == 1, what="the delivery")
    (request,) = platform.receiver.at(path)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (hook["secret"], rotated):
        Webhook(secret).verify(request.body, request.headers)
    # Both signed, so the service could open both; a dump of its tables holds neither.
    assert_not_in_a_dump(platform.db_url, hook["secret"], rotated)


def test_a_subscription_alone_delivers_in_the_trace_of_the_enqueue(
    platform: Platform, notifier: ServiceProcess
) -> None:
    """No preference set (webhooks default on); a queue task's completion is delivered,
    and the delivery continues the enqueue's trace: enqueue -> lease -> event ->
    notification is one trace across the real processes."""
    user, _, headers = person(platform)
    path = f"/traced/{user}"
    hook = subscribe(notifier, headers, platform.receiver.url(path), "task.completed")
    trace_id = uuid.uuid4().hex
    # urllib, not httpx: httpx instrumentation (when on in this process) would replace
    # the traceparent with its own.
    enqueue = urllib.request.Request(
        f"{platform.task.url}/api/v1/queues/traced/tasks",
        data=json.dumps({"payload": {}}).encode(),
        headers={
            **headers,
            "content-type": "application/json",
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
        },
        method="POST",
    )
    with urllib.request.urlopen(enqueue, timeout=30) as enqueued:
        assert enqueued.status == 201
    worker = bearer(platform.tokens.service_token("queues:work"))
    leases = f"{platform.task.url}/api/v1/queues/traced/leases"
    (task,) = httpx.post(leases, json={"worker_id": "w"}, headers=worker).json()["tasks"]
    complete = f"{platform.task.url}/api/v1/leases/{task['lease_id']}/complete"
    assert httpx.post(complete, json={}, headers=worker).status_code == 200

    wait_until(lambda: len(platform.receiver.at(path)) == 1, what="the webhook delivery")
    (request,) = platform.receiver.at(path)
    assert Webhook(hook["secret"]).verify(request.body, request.headers)["type"] == (
        "task.completed"
    )
    with psycopg.connect(platform.db_url) as connection:
        row = connection.execute(
            "SELECT traceparent FROM notifications.deliveries WHERE webhook_id = %s",
            (hook["id"],),
        ).fetchone()
    assert row is not None
    assert row[0].split("-")[1] == trace_id
