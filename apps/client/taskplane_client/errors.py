"""Typed errors: every failure of a call is a :class:`TaskplaneError` with a readable message.

An answer that is not 2xx becomes an :class:`ApiError` (a subclass per status that
callers branch on) carrying the RFC 9457 problem+json ``detail``; a server that cannot
be reached, after the retries, is a :class:`ConnectionFailedError` naming the URL.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class TaskplaneError(Exception):
    """Base of every error the client raises."""


class ConnectionFailedError(TaskplaneError):
    """The service at ``url`` could not be reached (after the retries, if any)."""

    def __init__(self, url: str, cause: BaseException, attempts: int = 1) -> None:
        self.url = url
        self.cause = cause
        self.attempts = attempts
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        reason = str(cause) or type(cause).__name__
        super().__init__(f"cannot reach {url}{tries}: {reason}")


class BadResponseError(TaskplaneError):
    """A 2xx answer whose body is not what the API promises (a version mismatch)."""


class LoginExpiredError(TaskplaneError):
    """The stored login can no longer be refreshed: the user has to log in again."""


class TokenExchangeError(TaskplaneError):
    """The auth service refused a service token (``tps_…``)."""


# eq and repr stay the exception's own: identity, and ``ApiError('HTTP 404: ...')``.
@dataclass(eq=False, repr=False)
class ApiError(TaskplaneError):
    """A non-2xx answer; ``detail`` is the problem+json ``detail`` (or title, or text)."""

    status: int
    detail: str
    _: KW_ONLY
    method: str = ""
    url: str = ""
    title: str = ""
    problem_type: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)
    retry_after_s: float | None = None

    def __post_init__(self) -> None:
        super().__init__(f"HTTP {self.status}: {self.detail}")


class UnauthorizedError(ApiError):
    """401: no token, or one the service does not accept."""


class ForbiddenError(ApiError):
    """403: the token lacks the role or scope."""


class NotFoundError(ApiError):
    """404 (also what someone else's task looks like)."""


class ConflictError(ApiError):
    """409: e.g. a lease that expired or belongs to another worker."""


class LeaseLostError(ConflictError):
    """409 on a lease call: the lease expired, was reclaimed, or the task was cancelled."""


class PreconditionFailedError(ApiError):
    """412: ``If-Match`` named a version that is no longer current."""


class ValidationFailedError(ApiError):
    """422: the body or a parameter was refused; ``errors`` lists each problem."""


class RateLimitedError(ApiError):
    """429: slow down; ``retry_after_s`` says for how long."""


class ServiceUnavailableError(ApiError):
    """5xx: the service (or its database) is not able to answer now."""


_BY_STATUS: dict[int, type[ApiError]] = {
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    422: ValidationFailedError,
    429: RateLimitedError,
}


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), None when absent."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def error_from_response(response: httpx.Response, *, lease_call: bool = False) -> ApiError:
    """The typed error of a non-2xx answer, with its problem+json fields."""
    status = response.status_code
    title = problem_type = ""
    errors: list[dict[str, Any]] = []
    detail = response.reason_phrase or "error"
    try:
        body = response.json()
    except ValueError:
        body = None
        if response.text.strip():
            detail = response.text.strip()[:500]
    if isinstance(body, dict):
        title = str(body.get("title") or "")
        problem_type = str(body.get("type") or "")
        detail = str(body.get("detail") or title or detail)
        raw_errors = body.get("errors")
        if isinstance(raw_errors, list):
            errors = [item for item in raw_errors if isinstance(item, dict)]
    if status == 409 and lease_call:
        kind: type[ApiError] = LeaseLostError
    elif status >= 500:
        kind = ServiceUnavailableError
    else:
        kind = _BY_STATUS.get(status, ApiError)
    return kind(
        status,
        detail,
        method=response.request.method,
        url=str(response.request.url),
        title=title,
        problem_type=problem_type,
        errors=errors,
        retry_after_s=retry_after_seconds(response),
    )
