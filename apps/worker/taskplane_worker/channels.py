"""How a worker talks to the task-service: the streaming lease, or plain HTTP requests.

Both offer the same calls, so the worker loop does not know which one it runs on:

* ``StreamChannel`` (the default): one WebSocket (``/queues/{queue}/lease-stream``)
  carries credit up, tasks down and every lease action; it reconnects on the next call
  after the connection ended (a restarted service), and the leases held stay valid. Its
  ``lease`` never waits for tasks: it tops up the credit and returns what has arrived,
  and ``wake`` is called when more arrive, so credit for slots that free meanwhile is
  sent at once instead of one round trip later.
* ``HttpChannel`` (``--no-stream``): the lease long-poll and one request per batch of
  completions or heartbeats, one per failure or release.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from taskplane_client import (
    NO_RETRY,
    ApiError,
    AsyncTaskplaneClient,
    Completion,
    LeasedTask,
    LeaseLostError,
    LeaseStream,
)
from taskplane_client.stream import Outcome
from taskplane_worker.config import WorkerConfig

T = TypeVar("T")


class Channel(Protocol):
    #: Tasks are pushed: ``lease`` returns at once, and ``wake`` is called on arrival.
    pushes: bool

    async def lease(self, wanted: int) -> tuple[list[LeasedTask], int]:
        """Up to ``wanted`` more tasks (a long-poll waits for some; a push channel returns
        what has arrived), and the queue's visibility timeout."""
        ...

    async def complete_many(self, items: Sequence[Outcome]) -> set[uuid.UUID]:
        """The leases completed; raises when the outcome is unknown."""
        ...

    async def heartbeat_many(self, lease_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]: ...

    async def fail(self, task: LeasedTask, error: str, *, retryable: bool) -> None:
        """Report a failed attempt (retrying through an outage); LeaseLostError when the
        lease is gone."""
        ...

    async def release(self, task: LeasedTask) -> None: ...

    async def drain(self) -> list[LeasedTask]:
        """Stop leasing; tasks that were on their way and must be handed back."""
        ...

    async def aclose(self) -> None: ...


class HttpChannel:
    pushes = False

    def __init__(self, client: AsyncTaskplaneClient, config: WorkerConfig) -> None:
        self.client = client
        self.worker_id = config.worker_id
        self.wait_s = config.wait_s
        self.queue = config.queue
        #: Outcomes are worth retrying for longer: the work is done already.
        self.reports = client.with_retry(
            dataclasses.replace(client.retry, deadline_s=config.report_retry_s)
        )
        #: One attempt per call, for the loops that retry on their own schedule.
        self.once = client.with_retry(NO_RETRY)

    async def lease(self, wanted: int) -> tuple[list[LeasedTask], int]:
        lease = await self.client.lease(
            self.queue, self.worker_id, max_tasks=wanted, wait_s=self.wait_s
        )
        return lease.tasks, lease.visibility_timeout_s

    async def complete_many(self, items: Sequence[Outcome]) -> set[uuid.UUID]:
        completions = [Completion(lease_id=item.lease_id, result=item.result) for item in items]
        answer = await self.once.complete_many(completions, self.worker_id)
        return {item.lease_id for item in answer if item.completed}

    async def heartbeat_many(self, lease_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        return await self.once.heartbeat_many(lease_ids, self.worker_id)

    async def fail(self, task: LeasedTask, error: str, *, retryable: bool) -> None:
        await self.reports.fail(task, error, retryable=retryable, worker_id=self.worker_id)

    async def release(self, task: LeasedTask) -> None:
        await self.once.release(task, self.worker_id)

    async def drain(self) -> list[LeasedTask]:
        return []  # a lease request in flight was cancelled: the service hands it back

    async def aclose(self) -> None:
        await self.client.aclose()


def _retryable(exc: Exception) -> bool:
    return not isinstance(exc, ApiError) or exc.status >= 500 or exc.status == 429


class StreamChannel:
    pushes = True

    def __init__(
        self, client: AsyncTaskplaneClient, config: WorkerConfig, wake: Callable[[], None]
    ) -> None:
        self.client = client
        self.config = config
        self.wake = wake
        self.stream: LeaseStream | None = None
        self._opening = asyncio.Lock()

    async def _open(self) -> LeaseStream:
        """The open stream, connecting a new one when there is none or it ended."""
        async with self._opening:
            if self.stream is not None and self.stream.closed:
                await self.stream.aclose()
                self.stream = None
            if self.stream is None:
                self.stream = await self.client.lease_stream(
                    self.config.queue,
                    self.config.worker_id,
                    answer_timeout_s=self.config.answer_timeout_s,
                )
                self.stream.on_arrival = self.wake
            return self.stream

    async def _retrying(self, call: Callable[[LeaseStream], Awaitable[T]]) -> T:
        """``call`` on the stream, through reconnections, for up to ``report_retry_s``."""
        deadline = time.monotonic() + self.config.report_retry_s
        while True:
            try:
                return await call(await self._open())
            except Exception as exc:
                if not _retryable(exc) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.5)

    async def lease(self, wanted: int) -> tuple[list[LeasedTask], int]:
        """What has arrived; else credit for ``wanted`` (when due) and nothing yet. Tasks
        an ended stream received are still taken (their leases stay valid)."""
        ended = self.stream
        if ended is not None and ended.closed and (left := ended.drop()):
            return left, ended.visibility_timeout_s
        stream = await self._open()
        tasks = stream.take()
        if not tasks:
            await stream.want(wanted)
        return tasks, stream.visibility_timeout_s

    async def complete_many(self, items: Sequence[Outcome]) -> set[uuid.UUID]:
        return await (await self._open()).complete_many(items)

    async def heartbeat_many(self, lease_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        return await (await self._open()).heartbeat_many(lease_ids)

    async def fail(self, task: LeasedTask, error: str, *, retryable: bool) -> None:
        failed = await self._retrying(
            lambda stream: stream.fail(task.lease_id, error, retryable=retryable)
        )
        if not failed:
            raise LeaseLostError(409, f"lease {task.lease_id} is gone")

    async def release(self, task: LeasedTask) -> None:
        released = await (await self._open()).release([task.lease_id])
        if task.lease_id not in released:
            raise LeaseLostError(409, f"lease {task.lease_id} is gone")

    async def drain(self) -> list[LeasedTask]:
        if self.stream is None or self.stream.closed:
            return []
        return await self.stream.drain()

    async def aclose(self) -> None:
        if self.stream is not None:
            await self.stream.aclose()
        await self.client.aclose()
