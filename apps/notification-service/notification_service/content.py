"""What a feed event turns into: the webhook body, the email and the in-app text.

Rendering only: the event comes parsed (the client's ``Event``), who gets it is decided
before (``consumer.routing``). Email bodies come from the templates in ``templates/``
(plain text and HTML, the HTML autoescaped: event data such as error messages is
someone's input).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from taskplane_client.models import Event

HEADLINES = {
    "task.created": "Task created",
    "task.updated": "Task updated",
    "task.assigned": "Task assigned",
    "task.completed": "Task completed",
    "task.failed": "Task failed",
    "task.dead": "Task dead-lettered after its last attempt",
    "task.cancelled": "Task cancelled",
    "task.deleted": "Task deleted",
}
#: The event type of a delivery queued by ``POST /api/v1/webhooks/{id}/test``.
TEST_EVENT = "webhook.test"
#: Data keys shown in emails and in-app bodies (others stay in the webhook body only).
SHOWN_DETAILS = ("status", "attempt", "error", "retry_at", "assignee_id", "reason")


@dataclass(frozen=True)
class Email:
    """A rendered email, stored in the outbox as JSON until it is sent."""

    to: str
    subject: str
    text: str
    html: str

    def to_json(self) -> str:
        return json.dumps(vars(self))

    @classmethod
    def from_json(cls, payload: str) -> Email:
        return cls(**json.loads(payload))


def headline(event: Event) -> str:
    return HEADLINES.get(event.type, event.type)


def details(event: Event) -> list[tuple[str, str]]:
    return [(key, str(event.data[key])) for key in SHOWN_DETAILS if key in event.data]


def webhook_body(event: Event) -> str:
    """The Standard Webhooks payload: ``{type, timestamp, data}``, compact JSON."""
    data = {
        "event_id": event.id,
        "task_id": str(event.task_id),
        "queue": event.queue,
        "owner_id": None if event.owner_id is None else str(event.owner_id),
        **{k: v for k, v in event.data.items() if k != "traceparent"},
    }
    return _payload(event.type, event.occurred_at, data)


def webhook_test_body(webhook_id: uuid.UUID, event_id: int, now: datetime) -> str:
    """The body of a ``webhook.test`` delivery: no task, just enough to check a receiver."""
    data = {"event_id": event_id, "webhook_id": str(webhook_id), "test": True}
    return _payload(TEST_EVENT, now, data)


def _payload(event_type: str, occurred_at: datetime, data: dict[str, Any]) -> str:
    body = {"type": event_type, "timestamp": occurred_at.isoformat(), "data": data}
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("notification_service", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def email_for(event: Event, to: str) -> Email:
    title = headline(event)
    context = {
        "headline": title,
        "task_id": str(event.task_id),
        "queue": event.queue,
        "event_type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "details": details(event),
    }
    environment = _templates()
    return Email(
        to=to,
        subject=f"[taskplane] {title}: {event.task_id}",
        text=environment.get_template("task_event.txt").render(context),
        html=environment.get_template("task_event.html").render(context),
    )


def in_app_text(event: Event) -> tuple[str, str]:
    """Title and body of the in-app notification."""
    shown = ", ".join(f"{key}: {value}" for key, value in details(event))
    body = f"Task {event.task_id}" + (f" ({shown})" if shown else "")
    return headline(event), body[:2000]
