"""Request and response bodies of the user API."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from functools import cache
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

import taskplane_client.models as wire
from taskplane_client.models import Omittable
from taskplane_client.models import Request as _Body


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _known_timezone(value: str) -> str:
    if value != "UTC" and value not in _timezones():
        raise ValueError("must be an IANA time zone such as Europe/Paris")
    return value


DisplayName = Annotated[
    str, StringConstraints(max_length=200, pattern=wire.NOT_BLANK), AfterValidator(str.strip)
]
Timezone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_known_timezone)]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]


class ProfileOut(BaseModel):
    id: uuid.UUID
    email: str | None
    display_name: str
    timezone: str
    locale: str
    created_at: datetime
    updated_at: datetime


class ProfileUpdate(_Body):
    """Fields left out keep their value; none can be ``null`` (422)."""

    display_name: Omittable[DisplayName] = None
    timezone: Omittable[Timezone] = None
    locale: Omittable[Locale] = None


class Channels(_Body):
    email: bool = False
    #: On unless muted: the webhook subscription itself is the opt-in.
    webhook: bool = True
    in_app: bool = True


class Preferences(_Body):
    """Channels per event type; a PUT may omit event types, which then use the defaults."""

    events: dict[wire.EventType, Channels] = Field(default_factory=dict)


class DirectoryEntry(BaseModel):
    """What any signed-in user may see of a colleague: enough to pick an assignee."""

    id: uuid.UUID
    display_name: str


class DirectoryEntryFull(DirectoryEntry):
    """What admins (and the notification-service) see."""

    email: str | None
    timezone: str
    locale: str
    created_at: datetime
    updated_at: datetime


class DirectoryPage(BaseModel):
    items: list[DirectoryEntryFull | DirectoryEntry]
    next_cursor: str | None
