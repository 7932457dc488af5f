"""The operator's view of the platform: register a queue's configuration, read its
depth and, for deletionPolicy Delete, remove it (task-service); bind a TaskQueue's
worker ServiceAccount to its queue and revoke that binding (auth-service).

The calls themselves are ``taskplane_client``'s (one implementation for the worker, the
operator and the CLI, service-token exchange included); this module only turns their
typed errors into a TaskServiceError with a condition-ready ``reason``, so callers can
report a failure without inspecting HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from types import TracebackType
from typing import Self, TypeVar

import httpx

from taskplane_client import (
    ApiError,
    AsyncTaskplaneClient,
    BadResponseError,
    ConnectionFailedError,
    NotFoundError,
    RetryPolicy,
    TokenExchangeError,
    calls,
)
from taskplane_client import QueueConfig as _QueueConfig
from taskplane_client import QueueStats as _QueueStats
from taskplane_client.auth import EXCHANGE_PATH, KUBERNETES_EXCHANGE_PATH, auth_for
from taskplane_client.transport import model, nothing
from taskplane_operator.model import TaskQueueSpec

T = TypeVar("T")


class QueueConfig(_QueueConfig):
    """Body of ``PUT /api/v1/queues/{queue}``."""

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


QueueStats = _QueueStats


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
    """One pooled client per operator process."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        auth_url: str | None = None,
        token_file: str | None = None,
    ) -> None:
        """Credentials as ``taskplane_client.auth.auth_for`` picks them: ``token_file``
        (a projected ServiceAccount token), else ``token`` (a JWT, or a ``tps_`` service
        token); either exchange needs ``auth_url``, else ValueError. None of them: no
        Authorization header."""
        self._timeout_s = timeout_s
        # A few quick retries; kopf's handler retries and the autoscaler's next poll
        # cover longer outages.
        retry = RetryPolicy(attempts=3, deadline_s=timeout_s, backoff_base_s=0.2)
        self._client = AsyncTaskplaneClient(
            base_url,
            auth_url=auth_url,
            auth=auth_for(token, auth_url, token_file),
            retry=retry,
            timeout_s=timeout_s,
            transport=transport,
            user_agent="taskplane-operator",
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
        await self._client.aclose()

    async def put_queue(self, queue: str, config: QueueConfig) -> None:
        """Create or update the queue's configuration (idempotent)."""
        # Only success matters here, not the queue the answer describes.
        put = calls.put_queue(queue, config).reading(nothing)
        await self._call("PUT", _queue(queue), self._client.send(put))

    async def get_stats(self, queue: str) -> QueueStats:
        """Current depth and totals of one queue."""
        stats = calls.get_queue(queue).reading(model(QueueStats))
        return await self._call("GET", _queue(queue), self._client.send(stats))

    async def delete_queue(self, queue: str) -> bool:
        """Delete the queue; False when it was already gone (nothing left to do, rather
        than an error that would block the finalizer)."""
        try:
            await self._call("DELETE", _queue(queue), self._client.delete_queue(queue))
        except TaskServiceError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def bind_workload(
        self,
        namespace: str,
        service_account: str,
        queue: str,
        service_account_uid: str | None = None,
    ) -> None:
        """Let ``namespace/service_account`` (the one with that uid, when given) work on
        ``queue``, and on no other (idempotent)."""
        # Only success matters here, not the binding the answer describes.
        put = calls.put_workload_binding(namespace, service_account, queue, service_account_uid)
        bind = put.reading(nothing)
        await self._call("PUT", bind.path, self._client.send(bind))

    async def unbind_workload(self, namespace: str, service_account: str) -> None:
        """Revoke the binding: tokens of that ServiceAccount are refused from now on."""
        unbind = calls.delete_workload_binding(namespace, service_account)
        try:
            await self._call("DELETE", unbind.path, self._client.send(unbind))
        except TaskServiceError as exc:
            if exc.status != 404:  # already gone: what deletion wants
                raise

    async def _call(self, method: str, path: str, call: Awaitable[T]) -> T:
        where = f"{method} {path}"
        try:
            # A token exchange is a request of its own; this bounds the call as a whole.
            async with asyncio.timeout(3 * self._timeout_s):
                return await call
        except TokenExchangeError as exc:
            raise TaskServiceError("ServiceTokenRejected", f"{where}: {exc}", status=401) from exc
        except TimeoutError as exc:
            raise TaskServiceError("TaskServiceTimeout", f"{where}: timed out") from exc
        except ConnectionFailedError as exc:
            raise _unreachable(where, exc) from exc
        except BadResponseError as exc:
            raise TaskServiceError("TaskServiceBadResponse", str(exc)) from exc
        except ApiError as exc:
            raise _refused(where, method, exc) from exc


def _queue(queue: str) -> str:
    return f"/api/v1/queues/{queue}"


def _unreachable(where: str, exc: ConnectionFailedError) -> TaskServiceError:
    cause = exc.cause
    at_auth = _at_auth_service(cause)
    if at_auth:
        where = "auth-service token exchange"
    if isinstance(cause, httpx.TimeoutException):
        return TaskServiceError(
            "TaskServiceTimeout", f"{where}: timed out ({type(cause).__name__})"
        )
    reason = "AuthServiceUnreachable" if at_auth else "TaskServiceUnreachable"
    return TaskServiceError(reason, f"{where}: {type(cause).__name__}: {cause}")


def _refused(where: str, method: str, exc: ApiError) -> TaskServiceError:
    message = f"{where}: HTTP {exc.status}: {exc.detail[:300]}"
    if isinstance(exc, NotFoundError) and method == "GET":
        return QueueNotFoundError("QueueNotRegistered", message, 404)
    if exc.status in (401, 403):
        return TaskServiceError("TaskServiceUnauthorized", message, exc.status)
    if exc.status >= 500:
        return TaskServiceError("TaskServiceUnavailable", message, exc.status)
    return TaskServiceError("TaskServiceRejected", message, exc.status)


def _at_auth_service(exc: BaseException) -> bool:
    """Whether a transport failure happened on the token exchange, not the call itself."""
    if not isinstance(exc, httpx.RequestError):
        return False
    try:
        return exc.request.url.path.endswith((EXCHANGE_PATH, KUBERNETES_EXCHANGE_PATH))
    except RuntimeError:  # an error raised without its request
        return False
