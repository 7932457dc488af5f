"""Request and response bodies of the notification API."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StringConstraints

import taskplane_client.models as wire
from taskplane_client.models import Omittable
from taskplane_client.models import Request as _Body

HTTP_URL_PATTERN = r"^\s*[Hh][Tt][Tt][Pp][Ss]?://"


def _http_url(value: object) -> object:
    """Says why before the pattern would (same rule, the SSRF guard's message)."""
    if isinstance(value, str) and not re.match(HTTP_URL_PATTERN, value):
        raise ValueError("webhook URL refused: only http and https URLs are allowed")
    return value


#: An http(s) URL (the SSRF guard then refuses addresses that are not public).
Url = Annotated[
    str,
    StringConstraints(max_length=2048, pattern=HTTP_URL_PATTERN),
    BeforeValidator(_http_url),
    AfterValidator(str.strip),
]
Description = Annotated[
    str, StringConstraints(max_length=200, pattern=wire.NO_NUL), AfterValidator(str.strip)
]
EventList = Annotated[list[wire.EventType], Field(min_length=1, max_length=len(wire.EVENT_TYPES))]


class WebhookCreate(_Body):
    url: Url
    events: EventList
    description: Description | None = None


class WebhookUpdate(_Body):
    """Fields left out keep their value; ``description: null`` clears the description,
    the other fields cannot be ``null`` (422)."""

    url: Omittable[Url] = None
    events: Omittable[EventList] = None
    description: Description | None = None
    #: ``true`` re-enables a subscription that was disabled after failing.
    enabled: Omittable[bool] = None


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookOut):
    #: ``whsec_…``: shown only in this response; store it now.
    secret: str


class SecretRotation(_Body):
    #: How long the old secret keeps signing too (0 = revoke it now).
    grace_s: int | None = Field(None, ge=0, le=30 * 86400)


class AttemptOut(BaseModel):
    attempt: int
    started_at: datetime
    duration_ms: int
    outcome: str
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None


class DeliveryOut(BaseModel):
    id: uuid.UUID
    #: The subscription it goes to.
    webhook_id: uuid.UUID
    #: The ``webhook-id`` header of every attempt of this delivery.
    webhook_message_id: str
    event_id: int
    event_type: str
    status: Literal["pending", "delivering", "succeeded", "failed"]
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class NotificationOut(BaseModel):
    id: uuid.UUID
    kind: str
    task_id: uuid.UUID | None
    title: str
    body: str
    data: dict[str, Any]
    read: bool
    read_at: datetime | None
    created_at: datetime


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None


class NotificationUpdate(_Body):
    read: bool


class UnreadCount(BaseModel):
    unread: int
