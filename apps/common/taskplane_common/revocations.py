"""The auth-service's revocation list, as every verifier of access tokens reads it.

A revocation raises its subject's epoch; a token carrying a lower epoch (minted before
the revocation) is refused. The list names subjects by digest only, so it is public.
Both the services' :class:`~taskplane_common.token_verifier.JwksTokenVerifier` and the
auth-service's own verifier check every request against it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from taskplane_common import background
from taskplane_common.errors import ProblemError
from taskplane_common.principals import invalid_token

log = logging.getLogger(__name__)

#: The subject's revocation epoch when the token was minted (absent: 0). A revocation
#: raises the subject's epoch; tokens carrying a lower one are refused.
EPOCH_CLAIM = "taskplane_epoch"
#: Where the auth-service serves the revocation list, beside its JWKS.
REVOCATIONS_PATH = "/api/v1/auth/revocations"


def subject_digest(subject: str) -> str:
    """How the revocation list names a subject: public, so it names nobody in the clear."""
    return hashlib.sha256(subject.encode()).hexdigest()


def token_epoch(claims: Mapping[str, Any]) -> int:
    """The token's epoch claim; -1 (older than any epoch) when it is not an integer."""
    epoch = claims.get(EPOCH_CLAIM, 0)
    return epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else -1


def revocations_url_for(jwks_url: str) -> str:
    """The revocation list of the auth-service that serves ``jwks_url``."""
    parsed = httpx.URL(jwks_url)
    return str(parsed.copy_with(path=REVOCATIONS_PATH, query=None))


#: ``fetch(since_version)`` returns one page of the revocation list (the endpoint's JSON).
RevocationFetch = Callable[[int], Awaitable[Mapping[str, Any]]]


class RevocationList:
    """The subjects whose older tokens are refused, polled from the auth-service.

    Versioned: each poll asks only for entries newer than the last version seen. The
    list is refreshed in the background every ``poll_interval_s`` while requests come
    in; a list older than ``max_age_s`` (the auth-service unreachable that long) is not
    trusted: requests wait for a refresh and get 503 if there is none. That is the
    promise: a revocation bites within ``max_age_s`` or the service refuses every token.
    Entries are forgotten ``window_s`` after their revocation (the server says how
    long), when every token minted before it has expired.
    """

    def __init__(
        self,
        fetch: RevocationFetch,
        *,
        poll_interval_s: float = 15,
        max_age_s: float = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.poll_interval_s = poll_interval_s
        self.max_age_s = max_age_s
        self._clock = clock
        #: subject digest -> (lowest epoch still valid, forget after this wall time)
        self._entries: dict[str, tuple[int, float]] = {}
        self._version = 0
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None
        self.fetches = 0

    async def check(self, digest: str, epoch: int) -> None:
        """401 when the subject was revoked after this token was minted."""
        await self._fresh()
        entry = self._entries.get(digest)
        if entry is not None and epoch < entry[0]:
            log.info("token refused: its subject was revoked after it was issued")
            raise invalid_token()

    async def aclose(self) -> None:
        await background.stop(self._background)

    async def _fresh(self) -> None:
        now = self._clock()
        age = None if self._loaded_at is None else now - self._loaded_at
        if age is not None and age < self.poll_interval_s:
            return
        if age is not None and age < self.max_age_s:
            if self._background is None or self._background.done():
                self._background = asyncio.create_task(self.refresh(), name="revocations")
            return
        await self.refresh()
        if self._loaded_at is None or self._clock() - self._loaded_at >= self.max_age_s:
            raise ProblemError(
                503,
                "the token revocation list cannot be refreshed; retry later",
                slug="auth-unavailable",
                headers={"Retry-After": "5"},
            )

    async def refresh(self) -> None:
        """Fetch what changed since the last version (single-flight, at most once a second
        while failing, so a down auth-service is not hammered)."""
        async with self._lock:
            started = self._clock()
            if self._loaded_at is not None and started - self._loaded_at < 1:
                return
            if self._attempted_at is not None and started - self._attempted_at < 1:
                return
            self._attempted_at = started
            self.fetches += 1
            try:
                while True:
                    page = await self._fetch(self._version)
                    more = self._apply(page)
                    if not more:
                        break
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                log.warning("could not refresh the revocation list: %s", type(exc).__name__)
                return
            self._loaded_at = started
            wall = time.time()
            self._entries = {k: v for k, v in self._entries.items() if v[1] > wall}

    def _apply(self, page: Mapping[str, Any]) -> bool:
        window_s = float(page["window_s"])
        for item in page["items"]:
            revoked_at = datetime.fromisoformat(item["revoked_at"]).timestamp()
            digest, epoch = str(item["subject_sha256"]), int(item["epoch"])
            known = self._entries.get(digest)
            if known is None or known[0] < epoch:
                self._entries[digest] = (epoch, revoked_at + window_s)
        # The server's version is authoritative (a restored database may go back).
        self._version = int(page["version"])
        return bool(page.get("more", False))


def http_revocations(client: httpx.AsyncClient, url: str) -> RevocationFetch:
    """Fetch pages of the revocation list from the auth-service over HTTP."""

    async def fetch(since: int) -> Mapping[str, Any]:
        response = await client.get(url, params={"since": since})
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError("not a revocation list")
        return document

    return fetch
