"""What a feed event turns into: the webhook body, the email and the in-app text.

Email bodies come from the templates in ``templates/`` (plain text and HTML, the HTML
autoescaped: event data such as error messages is someone's input).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from notification_service.senders import Email

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
#: Data keys shown in emails and in-app bodies (others stay in the webhook body only).
SHOWN_DETAILS = ("status", "attempt", "error", "retry_at", "assignee_id", "reason")


@dataclass(frozen=True)
class FeedEvent:
    """One item of ``GET /api/v1/events``."""

    id: int
    type: str
    task_id: str
    queue: str | None
    owner_id: str | None
    data: dict[str, Any]
    occurred_at: datetime
    cursor: str
    traceparent: str | None

    @classmethod
    def from_feed(cls, item: dict[str, Any]) -> FeedEvent:
        data = item.get("data") or {}
        return cls(
            id=int(item["id"]),
            type=str(item["type"]),
            task_id=str(item["task_id"]),
            queue=item.get("queue"),
            owner_id=item.get("owner_id"),
            data=data,
            occurred_at=datetime.fromisoformat(item["occurred_at"]),
            cursor=str(item["cursor"]),
            traceparent=item.get("traceparent") or data.get("traceparent"),
        )

    @property
    def headline(self) -> str:
        return HEADLINES.get(self.type, self.type)

    def details(self) -> list[tuple[str, str]]:
        return [(key, str(self.data[key])) for key in SHOWN_DETAILS if key in self.data]


def webhook_body(event: FeedEvent) -> str:
    """The Standard Webhooks payload: ``{type, timestamp, data}``, compact JSON."""
    data = {
        "event_id": event.id,
        "task_id": event.task_id,
        "queue": event.queue,
        "owner_id": event.owner_id,
        **{k: v for k, v in event.data.items() if k != "traceparent"},
    }
    body = {"type": event.type, "timestamp": event.occurred_at.isoformat(), "data": data}
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("notification_service", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def email_for(event: FeedEvent, to: str) -> Email:
    context = {
        "headline": event.headline,
        "task_id": event.task_id,
        "queue": event.queue,
        "event_type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "details": event.details(),
    }
    environment = _templates()
    return Email(
        to=to,
        subject=f"[taskplane] {event.headline}: {event.task_id}",
        text=environment.get_template("task_event.txt").render(context),
        html=environment.get_template("task_event.html").render(context),
    )


def in_app_text(event: FeedEvent) -> tuple[str, str]:
    """Title and body of the in-app notification."""
    details = ", ".join(f"{key}: {value}" for key, value in event.details())
    body = f"Task {event.task_id}" + (f" ({details})" if details else "")
    return event.headline, body[:2000]
