"""The webhook channel: one signed POST, connected only to addresses the SSRF guard
checked (at every hop when redirects are followed).

It returns an :class:`AttemptResult` instead of raising, so the dispatcher records every
attempt the same way, whatever went wrong.
"""

from __future__ import annotations

import httpx

from notification_service.config import Settings
from notification_service.delivery.outcome import AttemptResult
from notification_service.delivery.ssrf import UrlRefusedError, check_url, parse_url


def webhook_client(settings: Settings) -> httpx.AsyncClient:
    """No proxies from the environment (they would bypass the address check), no
    automatic redirects (each hop must be checked first)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.webhook_timeout_s),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=settings.max_concurrency, max_keepalive_connections=0),
        headers={"user-agent": "taskplane-webhooks/1"},
    )


async def post_webhook(
    client: httpx.AsyncClient,
    url: str,
    body: str,
    headers: dict[str, str],
    settings: Settings,
) -> AttemptResult:
    """POST ``body`` to ``url``, connecting only to checked addresses."""
    try:
        current = parse_url(url, settings.webhook_max_url_length)
    except UrlRefusedError as exc:
        return AttemptResult(False, error=f"refused: {exc.reason}", permanent=True)
    redirects = settings.webhook_max_redirects if settings.webhook_follow_redirects else 0
    for _hop in range(redirects + 1):
        try:
            target = await check_url(current, allow_loopback=settings.webhook_allow_loopback)
        except UrlRefusedError as exc:
            return AttemptResult(False, error=f"refused: {exc.reason}", permanent=True)
        try:
            response = await client.post(
                target.pinned_url,
                content=body.encode(),
                headers={**headers, "host": target.host_header},
                extensions=target.extensions,
            )
        except httpx.TimeoutException:
            return AttemptResult(False, error="timeout")
        except httpx.HTTPError as exc:
            return AttemptResult(False, error=f"connection error: {type(exc).__name__}")
        if 200 <= response.status_code < 300:
            return AttemptResult(True, status_code=response.status_code)
        location = response.headers.get("location")
        if not (300 <= response.status_code < 400 and location):
            return AttemptResult(False, status_code=response.status_code, error="non-2xx answer")
        if not settings.webhook_follow_redirects:
            return AttemptResult(
                False, status_code=response.status_code, error="redirect not followed"
            )
        current = current.join(location)
    return AttemptResult(False, error="too many redirects")
