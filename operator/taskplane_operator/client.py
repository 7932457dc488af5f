"""Async client for the queue part of the task-service API (design §5, a Contract).

Only what the operator needs: register a queue's configuration, read its depth and,
for deletionPolicy Delete, remove it. Every failure surfaces as TaskServiceError with
a condition-ready ``reason`` so callers can report it without inspecting httpx.

Authentication is taskplane_common's ServiceTokenAuth: an access token (JWT) is sent as
it is; a service token (``tps_…``) is exchanged at the auth-service for a short-lived
access token, renewed before it expires and once more on a 401.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from taskplane_common.client_auth import EXCHANGE_PATH, ServiceTokenAuth, TokenExchangeError
from taskplane_operator.model import TaskQueueSpec


class QueueConfig(BaseModel):
    """Body of ``PUT /api/v1/queues/{queue}``."""

    max_attempts: int
    visibility_timeout_s: int
    backoff_base_s: float
    backoff_max_s: float
    paused: bool
    rate_limit_per_s: float | None
    max_in_flight: int | None

    @classmethod
    def from_spec(cls, spec: TaskQueueSpec) -> QueueConfig:
        """Map the camelCase resource fields to the task-service's queue settings."""
        return cls(
            max_attempts=spec.retry.max_attempts,
            visibility_timeout_s=spec.visibility_timeout_seconds,
            backoff_base_s=spec.retry.backoff_base_seconds,
            backoff_max_s=spec.retry.backoff_max_seconds,
            paused=spec.paused,
            rate_limit_per_s=spec.rate_limit_per_second,
            max_in_flight=spec.max_in_flight,
        )


class QueueStats(BaseModel):
    """Body of ``GET /api/v1/queues/{queue}``."""

    available: int = 0
    scheduled: int = 0
    in_flight: int = 0
    retrying: int = 0
    dead: int = 0
    oldest_available_age_s: float | None = None
    completed_total: int = 0
    failed_total: int = 0


class TaskServiceError(Exception):
    """The task-service could not be used; ``reason`` is a CamelCase condition reason."""

    def __init__(self, reason: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


class QueueNotFoundError(TaskServiceError):
    """The queue is not registered (e.g. the task-service database was reset)."""


class TaskServiceClient:
    """One pooled HTTP client per operator process."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        auth_url: str | None = None,
    ) -> None:
        """``token``: a JWT, or a ``tps_`` service token (then ``auth_url`` is required,
        else ValueError); none sends no Authorization header."""
        headers = {"Accept": "application/json", "User-Agent": "taskplane-operator"}
        self._timeout_s = timeout_s
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout_s,
            transport=transport,
            auth=ServiceTokenAuth(token, auth_url) if token else None,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def put_queue(self, queue: str, config: QueueConfig) -> None:
        """Create or update the queue's configuration (idempotent)."""
        await self._request("PUT", queue, json=config.model_dump())

    async def get_stats(self, queue: str) -> QueueStats:
        """Current depth and totals of one queue."""
        response = await self._request("GET", queue)
        try:
            return QueueStats.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise TaskServiceError(
                "TaskServiceBadResponse", f"unexpected queue stats body: {exc}"
            ) from exc

    async def delete_queue(self, queue: str) -> bool:
        """Delete the queue; False when the task-service has no such endpoint or queue.

        DELETE is not part of the §5 Contract yet, so 404 and 405 both mean "nothing
        left to do here" rather than an error that would block the finalizer forever.
        """
        try:
            await self._request("DELETE", queue)
        except TaskServiceError as exc:
            if exc.status in (404, 405):
                return False
            raise
        return True

    async def _request(
        self, method: str, queue: str, json: dict[str, Any] | None = None
    ) -> httpx.Response:
        path = f"/api/v1/queues/{quote(queue, safe='')}"
        try:
            # A token exchange is a request of its own that httpx sends without the
            # client's timeout; this bounds the call as a whole (exchange, call, retry).
            async with asyncio.timeout(3 * self._timeout_s):
                response = await self._http.request(method, path, json=json)
        except TokenExchangeError as exc:
            raise TaskServiceError(
                "ServiceTokenRejected", f"{method} {path}: {exc}", status=401
            ) from exc
        except (httpx.TimeoutException, TimeoutError) as exc:
            where = "auth-service token exchange" if _at_auth_service(exc) else f"{method} {path}"
            raise TaskServiceError(
                "TaskServiceTimeout", f"{where}: timed out ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            if _at_auth_service(exc):
                raise TaskServiceError(
                    "AuthServiceUnreachable",
                    f"auth-service token exchange: {type(exc).__name__}: {exc}",
                ) from exc
            raise TaskServiceError(
                "TaskServiceUnreachable", f"{method} {path}: {type(exc).__name__}: {exc}"
            ) from exc
        if response.is_success:
            return response
        detail = _problem_detail(response)
        message = f"{method} {path}: HTTP {response.status_code}{detail}"
        if response.status_code == 404 and method == "GET":
            raise QueueNotFoundError("QueueNotRegistered", message, 404)
        if response.status_code in (401, 403):
            raise TaskServiceError("TaskServiceUnauthorized", message, response.status_code)
        if response.status_code >= 500:
            raise TaskServiceError("TaskServiceUnavailable", message, response.status_code)
        raise TaskServiceError("TaskServiceRejected", message, response.status_code)


def _at_auth_service(exc: BaseException) -> bool:
    """Whether a transport failure happened on the token exchange, not the call itself."""
    if not isinstance(exc, httpx.RequestError):
        return False
    try:
        return exc.request.url.path.endswith(EXCHANGE_PATH)
    except RuntimeError:  # an error raised without its request
        return False


def _problem_detail(response: httpx.Response) -> str:
    """The RFC 9457 ``detail`` (or title) of an error body, if there is one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        text = body.get("detail") or body.get("title")
        if text:
            return f": {str(text)[:300]}"
    return ""
