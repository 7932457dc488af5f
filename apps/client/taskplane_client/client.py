"""The sync and async clients: typed methods over the calls in :mod:`taskplane_client.calls`.

Both send a :class:`~taskplane_client.transport.Call` the same way: authenticate, retry
what the :class:`~taskplane_client.transport.RetryPolicy` allows, turn a non-2xx answer
into a typed :class:`~taskplane_client.errors.ApiError` and a server that stays
unreachable into a :class:`~taskplane_client.errors.ConnectionFailedError` naming its URL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from tenacity import AsyncRetrying, Retrying

from taskplane_client import calls
from taskplane_client.auth import auth_for
from taskplane_client.errors import LeaseLostError
from taskplane_client.models import (
    AccessToken,
    Completion,
    CompletionResult,
    Event,
    EventPage,
    HeartbeatResult,
    Lease,
    LeasedTask,
    LeaseResult,
    Queue,
    QueueConfig,
    QueuedTask,
    ServiceToken,
    ServiceTokenCreate,
    ServiceTokenCreated,
    Task,
    TaskCreate,
    TaskEnqueue,
    TaskPage,
    TaskStats,
    TaskUpdate,
    TokenPair,
    WorkloadBinding,
)
from taskplane_client.stream import LeaseStream, stream_url
from taskplane_client.transport import (
    Call,
    Endpoints,
    RetryPolicy,
    connection_failed,
    request_kwargs,
)

log = logging.getLogger("taskplane_client")
T = TypeVar("T")
TaskId = uuid.UUID | str

DEFAULT_API_URL = "http://localhost:8003"
DEFAULT_TIMEOUT_S = 10.0


@dataclasses.dataclass(frozen=True)
class TaskFilter:
    """Filters of ``GET /api/v1/tasks`` (repeated values are OR-ed; tags must all match)."""

    status: Sequence[str] = ()
    priority: Sequence[str] = ()
    tag: Sequence[str] = ()
    assignee: str | None = None
    q: str | None = None
    sort: str | None = None

    def call(self, limit: int | None, cursor: str | None) -> Call[TaskPage]:
        return calls.list_tasks(**dataclasses.asdict(self), limit=limit, cursor=cursor)


class _Base:
    """Configuration shared by both clients."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        auth_url: str | None = None,
        token: str | None = None,
        auth: httpx.Auth | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        user_agent: str = "taskplane-client",
    ) -> None:
        """``token``: an access token, or a ``tps_`` service token (exchanged at
        ``auth_url``); ``auth`` instead of a token for anything else (e.g. a login)."""
        self.endpoints = Endpoints(api_url, auth_url)
        self.auth = auth if auth is not None else auth_for(token, auth_url)
        self.retry = retry or RetryPolicy()
        self.timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
        self.headers = {"Accept": "application/json", "User-Agent": user_agent}

    def with_retry(self, retry: RetryPolicy) -> Self:
        """The same client (sharing its connections) with another retry policy."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.retry = retry
        return clone

    def _failed(self, call: Call[Any], exc: httpx.TransportError, attempts: int) -> Exception:
        return connection_failed(exc, self.endpoints.base(call), attempts)


class TaskplaneClient(_Base):
    """Blocking client; use it as a context manager or call :meth:`close`."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(api_url, **options)
        self._http = httpx.Client(headers=self.headers, transport=transport)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send(self, call: Call[T]) -> T:
        """Send ``call`` under the retry policy and return its parsed answer."""
        attempts = 0
        try:
            for attempt in Retrying(**self.retry.tenacity_kwargs(call)):
                with attempt:
                    attempts += 1
                    response = self._http.request(
                        call.method,
                        self.endpoints.url(call),
                        **request_kwargs(call, self.auth, self.timeout),
                    )
                    return call.answer(response)
        except httpx.TransportError as exc:
            raise self._failed(call, exc, attempts) from exc
        raise AssertionError("unreachable")

    def health(self) -> None:
        """Whether the task-service answers; ConnectionFailedError after the retries."""
        self.send(calls.health())

    # tasks
    def create_task(self, task: TaskCreate, *, idempotency_key: str | None = None) -> Task:
        return self.send(calls.create_task(task, idempotency_key))

    def list_tasks(
        self,
        filters: TaskFilter | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> TaskPage:
        return self.send((filters or TaskFilter()).call(limit, cursor))

    def iter_tasks(
        self, filters: TaskFilter | None = None, *, page_size: int = 100
    ) -> Iterator[Task]:
        """Every matching task, page after page (keyset cursors: stable under inserts)."""
        cursor: str | None = None
        while True:
            page = self.list_tasks(filters, limit=page_size, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def get_task(self, task_id: TaskId) -> Task:
        return self.send(calls.get_task(task_id))

    def update_task(
        self, task_id: TaskId, change: TaskUpdate, *, if_match: str | None = None
    ) -> Task:
        return self.send(calls.update_task(task_id, change, if_match))

    def delete_task(self, task_id: TaskId, *, if_match: str | None = None) -> None:
        self.send(calls.delete_task(task_id, if_match))

    def task_stats(self) -> TaskStats:
        return self.send(calls.task_stats())

    def cancel_task(self, task_id: TaskId) -> QueuedTask:
        return self.send(calls.cancel_task(task_id))

    # queues
    def list_queues(self) -> list[Queue]:
        return self.send(calls.list_queues())

    def get_queue(self, name: str) -> Queue:
        return self.send(calls.get_queue(name))

    def put_queue(self, name: str, config: QueueConfig) -> Queue:
        return self.send(calls.put_queue(name, config))

    def delete_queue(self, name: str, *, force: bool = False) -> None:
        self.send(calls.delete_queue(name, force=force))

    def enqueue(self, queue: str, task: TaskEnqueue) -> QueuedTask:
        return self.send(calls.enqueue(queue, task))

    def enqueue_many(self, queue: str, tasks: Sequence[TaskEnqueue]) -> list[QueuedTask]:
        return self.send(calls.enqueue_many(queue, tasks))

    def list_dead(self, queue: str, *, limit: int = 100) -> list[QueuedTask]:
        return self.send(calls.list_dead(queue, limit))

    def retry_dead(self, queue: str, task_id: TaskId) -> QueuedTask:
        return self.send(calls.retry_dead(queue, task_id))

    # leases
    def lease(self, queue: str, worker_id: str, *, max_tasks: int = 1, wait_s: float = 0) -> Lease:
        return self.send(calls.lease(queue, worker_id, max_tasks, wait_s))

    def heartbeat(self, task: LeasedTask, worker_id: str | None = None) -> HeartbeatResult:
        return self.send(calls.heartbeat(task.lease_id, worker_id))

    def complete(
        self, task: LeasedTask, result: Any = None, worker_id: str | None = None
    ) -> LeaseResult:
        return self.send(calls.complete(task.lease_id, result, worker_id))

    def fail(
        self, task: LeasedTask, error: str, *, retryable: bool = True, worker_id: str | None = None
    ) -> LeaseResult:
        return self.send(calls.fail(task.lease_id, error, retryable=retryable, worker_id=worker_id))

    def release(self, task: LeasedTask, worker_id: str | None = None) -> LeaseResult:
        return self.send(calls.release(task.lease_id, worker_id))

    # events
    def events(self, after: str | None = None, *, wait_s: float = 0, limit: int = 100) -> EventPage:
        return self.send(calls.events(after, wait_s=wait_s, limit=limit))

    def iter_events(
        self,
        after: str | None = None,
        *,
        follow: bool = False,
        wait_s: float = 20,
        limit: int = 100,
    ) -> Iterator[Event]:
        """Events in order from ``after``; ``follow`` keeps long-polling for new ones."""
        cursor = after
        while True:
            page = self.events(cursor, wait_s=wait_s if follow else 0, limit=limit)
            yield from page.items
            cursor = page.next_cursor
            if not page.items and not follow:
                return

    # auth
    def login(self, email: str, password: str) -> TokenPair:
        return self.send(calls.login(email, password))

    def logout(self, refresh_token: str) -> None:
        self.send(calls.logout(refresh_token))

    def create_service_token(self, body: ServiceTokenCreate) -> ServiceTokenCreated:
        return self.send(calls.create_service_token(body))

    def list_service_tokens(self) -> list[ServiceToken]:
        return self.send(calls.list_service_tokens())

    def revoke_service_token(self, token_id: TaskId) -> None:
        self.send(calls.revoke_service_token(token_id))

    def exchange_kubernetes_token(self, token: str) -> AccessToken:
        return self.send(calls.exchange_kubernetes_token(token))

    def put_workload_binding(
        self,
        namespace: str,
        service_account: str,
        queue: str,
        service_account_uid: str | None = None,
    ) -> WorkloadBinding:
        return self.send(
            calls.put_workload_binding(namespace, service_account, queue, service_account_uid)
        )

    def delete_workload_binding(self, namespace: str, service_account: str) -> None:
        self.send(calls.delete_workload_binding(namespace, service_account))

    def list_workload_bindings(self) -> list[WorkloadBinding]:
        return self.send(calls.list_workload_bindings())


class AsyncTaskplaneClient(_Base):
    """Asyncio client; the worker and the operator run on it."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(api_url, **options)
        self._http = httpx.AsyncClient(headers=self.headers, transport=transport)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        """Send ``call`` under the retry policy; cancelling it aborts the request at once
        (its connection is closed, so the server ends a long-poll)."""
        attempts = 0
        try:
            async for attempt in AsyncRetrying(**self.retry.tenacity_kwargs(call)):
                with attempt:
                    attempts += 1
                    response = await self._http.request(
                        call.method,
                        self.endpoints.url(call),
                        **request_kwargs(call, self.auth, self.timeout),
                    )
                    return call.answer(response)
        except httpx.TransportError as exc:
            raise self._failed(call, exc, attempts) from exc
        raise AssertionError("unreachable")

    async def health(self) -> None:
        """Whether the task-service answers; ConnectionFailedError after the retries."""
        await self.send(calls.health())

    # tasks
    async def create_task(self, task: TaskCreate, *, idempotency_key: str | None = None) -> Task:
        return await self.send(calls.create_task(task, idempotency_key))

    async def list_tasks(
        self,
        filters: TaskFilter | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> TaskPage:
        return await self.send((filters or TaskFilter()).call(limit, cursor))

    async def iter_tasks(
        self, filters: TaskFilter | None = None, *, page_size: int = 100
    ) -> AsyncIterator[Task]:
        """Every matching task, page after page (keyset cursors: stable under inserts)."""
        cursor: str | None = None
        while True:
            page = await self.list_tasks(filters, limit=page_size, cursor=cursor)
            for task in page.items:
                yield task
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def get_task(self, task_id: TaskId) -> Task:
        return await self.send(calls.get_task(task_id))

    async def update_task(
        self, task_id: TaskId, change: TaskUpdate, *, if_match: str | None = None
    ) -> Task:
        return await self.send(calls.update_task(task_id, change, if_match))

    async def delete_task(self, task_id: TaskId, *, if_match: str | None = None) -> None:
        await self.send(calls.delete_task(task_id, if_match))

    async def task_stats(self) -> TaskStats:
        return await self.send(calls.task_stats())

    async def cancel_task(self, task_id: TaskId) -> QueuedTask:
        return await self.send(calls.cancel_task(task_id))

    # queues
    async def list_queues(self) -> list[Queue]:
        return await self.send(calls.list_queues())

    async def get_queue(self, name: str) -> Queue:
        return await self.send(calls.get_queue(name))

    async def put_queue(self, name: str, config: QueueConfig) -> Queue:
        return await self.send(calls.put_queue(name, config))

    async def delete_queue(self, name: str, *, force: bool = False) -> None:
        await self.send(calls.delete_queue(name, force=force))

    async def enqueue(self, queue: str, task: TaskEnqueue) -> QueuedTask:
        return await self.send(calls.enqueue(queue, task))

    async def enqueue_many(self, queue: str, tasks: Sequence[TaskEnqueue]) -> list[QueuedTask]:
        return await self.send(calls.enqueue_many(queue, tasks))

    async def list_dead(self, queue: str, *, limit: int = 100) -> list[QueuedTask]:
        return await self.send(calls.list_dead(queue, limit))

    async def retry_dead(self, queue: str, task_id: TaskId) -> QueuedTask:
        return await self.send(calls.retry_dead(queue, task_id))

    # leases
    async def lease(
        self, queue: str, worker_id: str, *, max_tasks: int = 1, wait_s: float = 0
    ) -> Lease:
        return await self.send(calls.lease(queue, worker_id, max_tasks, wait_s))

    async def heartbeat(self, task: LeasedTask, worker_id: str | None = None) -> HeartbeatResult:
        return await self.send(calls.heartbeat(task.lease_id, worker_id))

    async def lease_stream(self, queue: str, worker_id: str) -> LeaseStream:
        """Open the streaming lease of ``queue`` (:mod:`taskplane_client.stream`)."""
        url = stream_url(self.endpoints.api_url, queue, worker_id)
        return await LeaseStream.open(
            url,
            await self._authorization(url),
            user_agent=self.headers["User-Agent"],
            timeout_s=self.timeout.connect or DEFAULT_TIMEOUT_S,
        )

    async def _authorization(self, url: str) -> dict[str, str]:
        """The headers this client's auth puts on a request to ``url`` (a service token
        exchanged first when it needs to be), for a connection httpx does not make."""
        request = self._http.build_request("GET", url.replace("ws", "http", 1))
        if self.auth is None:
            return {}
        flow = self.auth.async_auth_flow(request)
        outgoing = await flow.__anext__()
        while outgoing is not request:
            response = await self._http.send(outgoing)
            await response.aread()
            outgoing = await flow.asend(response)
        await flow.aclose()
        header = request.headers.get("Authorization")
        return {"Authorization": header} if header else {}

    async def heartbeat_many(
        self, lease_ids: Iterable[uuid.UUID], worker_id: str | None = None
    ) -> set[uuid.UUID]:
        return await self.send(calls.heartbeat_many(lease_ids, worker_id))

    async def complete(
        self, task: LeasedTask, result: Any = None, worker_id: str | None = None
    ) -> LeaseResult:
        return await self.send(calls.complete(task.lease_id, result, worker_id))

    async def complete_many(
        self, items: Sequence[Completion], worker_id: str | None = None
    ) -> list[CompletionResult]:
        return await self.send(calls.complete_many(items, worker_id))

    async def fail(
        self, task: LeasedTask, error: str, *, retryable: bool = True, worker_id: str | None = None
    ) -> LeaseResult:
        return await self.send(
            calls.fail(task.lease_id, error, retryable=retryable, worker_id=worker_id)
        )

    async def release(self, task: LeasedTask, worker_id: str | None = None) -> LeaseResult:
        return await self.send(calls.release(task.lease_id, worker_id))

    async def keep_leased(
        self, task: LeasedTask, worker_id: str | None = None, *, on_lost: Callable[[], object]
    ) -> None:
        """Heartbeat every third of the visibility timeout until cancelled; when the
        server says the lease is gone, call ``on_lost`` and return."""
        interval = max(0.2, task.visibility_timeout_s / 3)
        beats = self.with_retry(dataclasses.replace(self.retry, deadline_s=interval))
        while True:
            await asyncio.sleep(interval)
            try:
                await beats.heartbeat(task, worker_id)
            except LeaseLostError:
                log.warning("lease of task %s lost; abandoning it", task.id)
                on_lost()
                return
            except Exception as exc:
                log.warning("heartbeat for task %s failed: %s", task.id, exc)

    # events
    async def events(
        self, after: str | None = None, *, wait_s: float = 0, limit: int = 100
    ) -> EventPage:
        return await self.send(calls.events(after, wait_s=wait_s, limit=limit))

    async def iter_events(
        self,
        after: str | None = None,
        *,
        follow: bool = False,
        wait_s: float = 20,
        limit: int = 100,
    ) -> AsyncIterator[Event]:
        """Events in order from ``after``; ``follow`` keeps long-polling for new ones."""
        cursor = after
        while True:
            page = await self.events(cursor, wait_s=wait_s if follow else 0, limit=limit)
            for event in page.items:
                yield event
            cursor = page.next_cursor
            if not page.items and not follow:
                return

    # auth
    async def login(self, email: str, password: str) -> TokenPair:
        return await self.send(calls.login(email, password))

    async def logout(self, refresh_token: str) -> None:
        await self.send(calls.logout(refresh_token))

    async def create_service_token(self, body: ServiceTokenCreate) -> ServiceTokenCreated:
        return await self.send(calls.create_service_token(body))

    async def list_service_tokens(self) -> list[ServiceToken]:
        return await self.send(calls.list_service_tokens())

    async def revoke_service_token(self, token_id: TaskId) -> None:
        await self.send(calls.revoke_service_token(token_id))

    async def exchange_kubernetes_token(self, token: str) -> AccessToken:
        return await self.send(calls.exchange_kubernetes_token(token))

    async def put_workload_binding(
        self,
        namespace: str,
        service_account: str,
        queue: str,
        service_account_uid: str | None = None,
    ) -> WorkloadBinding:
        return await self.send(
            calls.put_workload_binding(namespace, service_account, queue, service_account_uid)
        )

    async def delete_workload_binding(self, namespace: str, service_account: str) -> None:
        await self.send(calls.delete_workload_binding(namespace, service_account))

    async def list_workload_bindings(self) -> list[WorkloadBinding]:
        return await self.send(calls.list_workload_bindings())
