"""Calls to the task-service feed and the user-service (scopes ``events:read`` and
``users:read``), authenticated the way every taskplane process is (``auth_for``): the
pod's projected ServiceAccount token in Kubernetes, else a service token.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from notification_service.config import Settings
from taskplane_client.auth import auth_for


class FeedGoneError(RuntimeError):
    """410: the cursor is older than what the feed still retains."""


@dataclass(frozen=True)
class Channels:
    email: bool = False
    webhook: bool = False
    in_app: bool = True


#: A person without a profile in the user-service has never chosen anything and has no
#: known email address: in-app, and webhooks (a subscription is their explicit opt-in).
NO_PROFILE = Channels(email=False, webhook=True, in_app=True)


@dataclass(frozen=True)
class Recipient:
    user_id: uuid.UUID
    email: str | None
    channels: dict[str, Channels] = field(default_factory=dict)
    has_profile: bool = True

    def channels_for(self, event_type: str) -> Channels:
        if not self.has_profile:
            return NO_PROFILE
        return self.channels.get(event_type, Channels(email=False, webhook=False, in_app=False))


class Peers:
    """One HTTP client for both peers, with a short-lived cache of recipients."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        token = settings.service_token.get_secret_value() if settings.service_token else None
        token_file = str(settings.token_file) if settings.token_file else None
        auth = auth_for(token, settings.auth_url, token_file)
        self.settings = settings
        self.client = httpx.AsyncClient(
            auth=auth,
            timeout=httpx.Timeout(settings.peer_timeout_s + settings.feed_wait_s),
            transport=transport,
        )
        self._cache: dict[uuid.UUID, tuple[float, Recipient]] = {}

    async def aclose(self) -> None:
        await self.client.aclose()

    async def read_events(self, after: str) -> dict[str, Any]:
        response = await self.client.get(
            f"{self.settings.task_service_url.rstrip('/')}/api/v1/events",
            params={
                "after": after,
                "wait_s": self.settings.feed_wait_s,
                "limit": self.settings.feed_page_size,
            },
        )
        if response.status_code == 410:
            raise FeedGoneError(_detail(response))
        response.raise_for_status()
        page: dict[str, Any] = response.json()
        return page

    async def recipient(self, user_id: uuid.UUID) -> Recipient:
        now = time.monotonic()
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        base = f"{self.settings.user_service_url.rstrip('/')}/api/v1/users/{user_id}"
        preferences = await self.client.get(f"{base}/preferences")
        if preferences.status_code == 404:
            recipient = Recipient(user_id, None, has_profile=False)
        else:
            preferences.raise_for_status()
            profile = await self.client.get(base)
            profile.raise_for_status()
            events = preferences.json().get("events", {})
            recipient = Recipient(
                user_id,
                profile.json().get("email"),
                {name: Channels(**channels) for name, channels in events.items()},
            )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[user_id] = (now + self.settings.preferences_cache_ttl_s, recipient)
        return recipient


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))[:500]
    except ValueError:
        return response.text[:500]
