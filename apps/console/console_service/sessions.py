"""Server-side sessions: the browser holds an opaque id in an HttpOnly cookie, the
tokens stay here. One process keeps them in memory (the chart runs one replica); a
restart logs everyone out, which is the safe failure."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

from taskplane_common.principals import Principal

COOKIE_NAME = "tp_session"
CSRF_HEADER = "x-csrf-token"


@dataclass
class Session:
    """One signed-in browser: its tokens, who it is and its CSRF secret."""

    id: str
    csrf: str
    refresh_token: str
    access_token: str
    #: Monotonic time after which the access token is renewed before use.
    renew_at: float
    principal: Principal
    last_seen: float = field(default_factory=time.monotonic)
    #: Refresh tokens rotate and a reused one revokes the session: one refresh at a time.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class SessionStore:
    """Sessions by id, dropped after ``idle_s`` without a request."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self._sessions: dict[str, Session] = {}

    def create(
        self, refresh_token: str, access_token: str, expires_in: float, principal: Principal
    ) -> Session:
        self._purge()
        session = Session(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(24),
            refresh_token=refresh_token,
            access_token=access_token,
            renew_at=renew_deadline(expires_in),
            principal=principal,
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        now = time.monotonic()
        if session is None or now - session.last_seen > self.idle_s:
            self._sessions.pop(session_id, None)
            return None
        session.last_seen = now
        return session

    def drop(self, session_id: str) -> Session | None:
        return self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _purge(self) -> None:
        cutoff = time.monotonic() - self.idle_s
        for stale in [s.id for s in self._sessions.values() if s.last_seen < cutoff]:
            self._sessions.pop(stale, None)


def renew_deadline(expires_in: float) -> float:
    """Renew a little before expiry so a forwarded call never carries a dying token."""
    return time.monotonic() + max(1.0, expires_in - min(60.0, expires_in / 4))
