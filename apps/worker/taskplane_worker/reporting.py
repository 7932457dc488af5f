"""What a worker holds and tells the service about it: leases, results, heartbeats.

A finished task's result goes into the completion buffer, which one completer task
flushes (``Channel.complete_many``) when ``complete_batch`` results wait or
``complete_flush_s`` after the first (River's batch completer), retrying through an API
outage without holding any slot. One heartbeat loop extends every lease held (running,
prefetched or waiting in the buffer) in one call per ``_beat_s``. Failures and releases
are sent in the background; a lease is held, and heartbeated, until its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from taskplane_client import ApiError, LeasedTask, LeaseLostError
from taskplane_worker.channels import Channel
from taskplane_worker.config import WorkerConfig
from taskplane_worker.observability import API_ERRORS, IN_FLIGHT, TASKS

log = logging.getLogger("taskplane_worker.runtime")

#: Completions per call at most (the server accepts up to 1000).
COMPLETE_REQUEST_MAX = 500
#: Heartbeat lease ids per call at most (the server accepts up to 1000).
HEARTBEAT_REQUEST_MAX = 1000


def count_api_error(call: str, _: BaseException, __: float) -> None:
    API_ERRORS.labels(call).inc()


@dataclass(eq=False)
class Held:
    """A lease this worker holds: prefetched, running, or its result in the buffer."""

    task: LeasedTask
    #: The running handler's asyncio task (None while prefetched or once finished).
    runner: asyncio.Task[None] | None = None
    #: The heartbeat found the lease gone: the runner was cancelled for that reason.
    lost: bool = False


@dataclass
class Buffered:
    """A finished task's result waiting for the completer."""

    held: Held
    result: Any
    #: The trace context the completion request continues (the task's process span).
    span_context: trace.SpanContext | None
    since: float = field(default_factory=time.monotonic)

    @property
    def lease_id(self) -> uuid.UUID:
        """Its lease (a ``Buffered`` is what the channel's ``complete_many`` sends)."""
        return self.held.task.lease_id


class Reporting:
    """The leases a worker holds and the calls that report on them (see the module)."""

    channel: Channel

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.stopping = asyncio.Event()
        #: Every lease held, by lease id.
        self.held: dict[uuid.UUID, Held] = {}
        #: Leased, not started yet (at most ``prefetch`` beyond the free slots).
        self.ready: deque[Held] = deque()
        #: Failure reports and releases under way (they never hold a slot).
        self.reporting: set[asyncio.Task[None]] = set()
        self.buffer: list[Buffered] = []
        #: Something the lease loop waits for changed (a slot freed, the buffer shrank).
        self._changed = asyncio.Event()
        self._buffered = asyncio.Event()
        self._buffer_full = asyncio.Event()
        #: The heartbeat interval: a third of the queue's visibility timeout.
        self._beat_s = 10.0
        self._beat_changed = asyncio.Event()
        queue = config.queue
        self._in_flight = IN_FLIGHT.labels(queue)
        self._outcomes = {
            outcome: TASKS.labels(queue, outcome)
            for outcome in ("completed", "failed", "timed_out", "released", "lost")
        }

    def _visibility(self, visibility_timeout_s: int) -> None:
        """Heartbeat at a third of the queue's visibility timeout."""
        beat_s = max(0.2, visibility_timeout_s / 3)
        if beat_s != self._beat_s:
            self._beat_s = beat_s
            self._beat_changed.set()

    # -------------------------------------------------------------- failures, releases

    def _report(
        self, call: Awaitable[Any], task: LeasedTask, what: str, timeout_s: float | None = None
    ) -> None:
        """Send a failure or a release in the background (no slot waits for it), within
        ``timeout_s`` if given; the lease is held, and heartbeated, until the answer."""

        async def send() -> None:
            try:
                async with asyncio.timeout(timeout_s):
                    await call
            except LeaseLostError:
                log.warning("task %s: lease expired or revoked before its %s", task.id, what)
            except Exception as exc:
                log.error("task %s: could not report its %s: %s", task.id, what, exc)
            finally:
                self.held.pop(task.lease_id, None)

        sending = asyncio.create_task(send())
        self.reporting.add(sending)
        sending.add_done_callback(self.reporting.discard)

    def _fail(self, task: LeasedTask, error: str, *, retryable: bool) -> None:
        self._report(self.channel.fail(task, error, retryable=retryable), task, "failure")

    def _release(self, task: LeasedTask) -> None:
        self._report(self.channel.release(task), task, "release", timeout_s=5)

    # -------------------------------------------------------------- completions

    def _buffer(self, held: Held, result: Any) -> None:
        """Queue a result for the completer, with the trace context it runs in (the
        task's span, or its producer's trace without one)."""
        span_context = trace.get_current_span().get_span_context()
        self.buffer.append(Buffered(held, result, span_context if span_context.is_valid else None))
        self._buffered.set()
        if len(self.buffer) >= self.config.complete_batch:
            self._buffer_full.set()

    async def _complete_loop(self) -> None:
        """The completer: flush the buffer by size or time, until cancelled."""
        while True:
            await self._buffered.wait()
            if not self.buffer:
                # A retry's wake-up (``_retry_later``) can fire after a later flush
                # emptied the buffer: nothing to send, wait for the next completion.
                self._buffered.clear()
                continue
            if len(self.buffer) < self.config.complete_batch and not self.stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.config.complete_flush_s):
                        await self._buffer_full.wait()
            await self._flush()

    async def _flush(self) -> None:
        """Send one batch from the head of the buffer; on an error worth retrying it
        stays there (its leases heartbeated meanwhile) until ``report_retry_s``."""
        batch = self.buffer[:COMPLETE_REQUEST_MAX]
        if not batch:
            return
        first = batch[0].span_context
        token = (
            otel_context.attach(trace.set_span_in_context(trace.NonRecordingSpan(first)))
            if first is not None
            else None
        )
        completed: set[uuid.UUID] | None
        try:
            completed = await self.channel.complete_many(batch)
        except Exception as exc:
            if self._retry_later(exc, batch):
                return
            completed = None
            log.error("could not report %d completion(s): %s", len(batch), exc)
        finally:
            if token is not None:
                otel_context.detach(token)
        del self.buffer[: len(batch)]
        self._settled(batch, completed)

    def _retry_later(self, exc: Exception, batch: list[Buffered]) -> bool:
        """Whether ``batch`` stays buffered for another attempt (after a pause)."""
        retryable = not isinstance(exc, ApiError) or exc.status >= 500 or exc.status == 429
        if not retryable or time.monotonic() - batch[0].since > self.config.report_retry_s:
            return False
        count_api_error("complete_many", exc, 0.0)
        log.warning("reporting %d completion(s) failed: %s; retrying", len(self.buffer), exc)
        self._buffered.clear()
        asyncio.get_running_loop().call_later(0.5, self._buffered.set)
        return True

    def _settled(self, batch: list[Buffered], completed: set[uuid.UUID] | None) -> None:
        lost = 0
        for entry in batch:
            lease_id = entry.held.task.lease_id
            self.held.pop(lease_id, None)
            if completed is not None and lease_id in completed:
                continue
            lost += 1
            if completed is not None:
                task_id = entry.held.task.id
                log.warning("task %s: lease expired or revoked before reporting", task_id)
        self._in_flight.dec(len(batch))
        self._outcomes["completed"].inc(len(batch) - lost)
        if lost:
            self._outcomes["lost"].inc(lost)
        if not self.buffer:
            self._buffered.clear()
        if len(self.buffer) < self.config.complete_batch:
            self._buffer_full.clear()
        self._changed.set()

    # -------------------------------------------------------------- heartbeats

    async def _heartbeat_loop(self) -> None:
        """Extend every held lease in one call per ``_beat_s``, until cancelled; a lease
        the server no longer extends stops its task."""
        while True:
            self._beat_changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._beat_s):
                    await self._beat_changed.wait()
                continue  # a queue with another visibility timeout: wait that long
            lease_ids = list(self.held)
            for start in range(0, len(lease_ids), HEARTBEAT_REQUEST_MAX):
                chunk = lease_ids[start : start + HEARTBEAT_REQUEST_MAX]
                try:
                    alive = await self.channel.heartbeat_many(chunk)
                except Exception as exc:
                    count_api_error("heartbeat_many", exc, 0.0)
                    log.warning("heartbeat of %d lease(s) failed: %s", len(chunk), exc)
                    continue
                for lease_id in chunk:
                    if lease_id not in alive:
                        self._lease_gone(lease_id)

    def _lease_gone(self, lease_id: uuid.UUID) -> None:
        """The server no longer knows this lease: abandon its task if it has not finished
        (a finished one's completion answer says what happened)."""
        held = self.held.get(lease_id)
        if held is None:
            return
        if held in self.ready:
            self.ready.remove(held)
            del self.held[lease_id]
            self._outcomes["lost"].inc()
        elif held.runner is not None and not held.runner.done():
            held.lost = True
            held.runner.cancel()
        else:
            return
        log.warning("lease of task %s lost; abandoning it", held.task.id)
