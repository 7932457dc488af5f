"""Who gets what: each person's channels per event type, from the user-service.

The rules (:class:`Recipient`, :class:`Channels`) and the one lookup that feeds them
(``GET /api/v1/users/{id}/preferences`` and ``GET /api/v1/users/{id}`` for the address,
scope ``users:read``), cached for ``TASKPLANE_PREFERENCES_CACHE_TTL_S``. The client
package has no user-service calls, so this is a plain HTTP client with the process's
credential (the same ``httpx.Auth`` the feed reader uses).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import httpx

from notification_service.config import Settings


@dataclass(frozen=True)
class Channels:
    email: bool = False
    webhook: bool = False
    in_app: bool = True


#: A person without a profile in the user-service has never chosen anything and has no
#: known email address: in-app, and webhooks (a subscription is their explicit opt-in).
NO_PROFILE = Channels(email=False, webhook=True, in_app=True)
#: An event type missing from someone's preferences goes nowhere.
NOTHING = Channels(email=False, webhook=False, in_app=False)


@dataclass(frozen=True)
class Recipient:
    user_id: uuid.UUID
    email: str | None
    channels: dict[str, Channels] = field(default_factory=dict)
    has_profile: bool = True

    def channels_for(self, event_type: str) -> Channels:
        if not self.has_profile:
            return NO_PROFILE
        return self.channels.get(event_type, NOTHING)


class Recipients:
    """The user-service lookup, with a short-lived cache per person."""

    def __init__(self, settings: Settings, auth: httpx.Auth | None) -> None:
        self.ttl_s = settings.preferences_cache_ttl_s
        self.client = httpx.AsyncClient(
            base_url=f"{settings.user_service_url.rstrip('/')}/api/v1/users/",
            auth=auth,
            timeout=httpx.Timeout(settings.peer_timeout_s),
        )
        self._cache: dict[uuid.UUID, tuple[float, Recipient]] = {}

    async def aclose(self) -> None:
        await self.client.aclose()

    async def recipient(self, user_id: uuid.UUID) -> Recipient:
        now = time.monotonic()
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        recipient = await self._look_up(user_id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[user_id] = (now + self.ttl_s, recipient)
        return recipient

    async def _look_up(self, user_id: uuid.UUID) -> Recipient:
        preferences = await self.client.get(f"{user_id}/preferences")
        if preferences.status_code == 404:
            return Recipient(user_id, None, has_profile=False)
        preferences.raise_for_status()
        profile = await self.client.get(str(user_id))
        profile.raise_for_status()
        events = preferences.json().get("events", {})
        return Recipient(
            user_id,
            profile.json().get("email"),
            {name: Channels(**channels) for name, channels in events.items()},
        )
