"""The worker loop: lease by free slots, run handlers, drain on SIGTERM.

A slot is freed the moment its handler returns; its result goes to the completion
buffer (``reporting``), which is flushed in batches, and past ``complete_backlog``
waiting results the worker leases nothing more. Leases ask for the free slots plus
``prefetch`` (a full batch while handlers are short): over the streaming lease
(``channels.StreamChannel``, the default) as credit, topped up as slots free and served
by the service as tasks come, else as HTTP long-polls.

Nothing a handler does can crash the worker: exceptions and timeouts become failed
attempts with the error recorded. Tasks are never lost: a task is either completed,
failed (retried by the server), released on shutdown, or — if this process dies —
reclaimed by the server when its lease expires (at-least-once). On SIGTERM the worker
stops leasing, hands back prefetched tasks (and any the stream was still delivering),
lets running ones finish within the grace period, then flushes every buffered
completion before it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Awaitable
from typing import Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from taskplane_client import (
    AsyncTaskplaneClient,
    LeasedTask,
    LeaseLostError,
    NotFoundError,
    RetryPolicy,
)
from taskplane_worker.channels import Channel, HttpChannel, StreamChannel
from taskplane_worker.config import WorkerConfig
from taskplane_worker.handlers import Handler, HandlerError, TaskInfo
from taskplane_worker.observability import DURATION
from taskplane_worker.reporting import Held, Reporting, count_api_error

__all__ = ["Held", "LeaseLostError", "Worker", "WorkerConfig"]

log = logging.getLogger(__name__)
tracer = trace.get_tracer("taskplane_worker")
_PROPAGATOR = TraceContextTextMapPropagator()
#: The longest pause between lease attempts that failed (or found no queue).
MAX_BACKOFF_S = 15


def _being_cancelled() -> bool:
    """True when the current task itself is being cancelled (not something it awaited)."""
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


def _jsonable(value: Any) -> Any:
    if value is None or type(value) in (str, int, bool):
        return value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return {"repr": repr(value)[:10_000]}
    return value


def _sampled(traceparent: str | None) -> bool:
    """Whether a W3C traceparent asks for sampling (no parent: the sampler decides)."""
    if not traceparent:
        return True
    try:
        return bool(int(traceparent[-2:], 16) & 1)
    except ValueError:
        return False


class Worker(Reporting):
    def __init__(
        self,
        config: WorkerConfig,
        handler: Handler,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(config)
        self.handler = handler
        self.inflight: set[asyncio.Task[None]] = set()
        self.client = AsyncTaskplaneClient(
            config.api_url,
            auth_url=config.auth_url,
            token=config.token,
            retry=RetryPolicy(attempts=None, deadline_s=30, on_retry=count_api_error),
            timeout_s=15,
            transport=transport,
            user_agent=f"taskplane-worker/{config.worker_id}",
        )
        self.channel: Channel = (
            StreamChannel(self.client, config, self._changed.set)
            if config.stream
            else HttpChannel(self.client, config)
        )
        self._duration = DURATION.labels(config.queue)
        #: Handler time, a moving average (None until one has finished).
        self._typical_s: float | None = None

    async def wait_for_api(self) -> None:
        """Reach the task-service (with backoff, up to ``startup_timeout_s``) or raise
        ConnectionFailedError naming its URL."""
        probe = self.client.with_retry(
            RetryPolicy(attempts=None, deadline_s=self.config.startup_timeout_s)
        )
        await probe.health()

    async def _lease(self, max_tasks: int) -> list[LeasedTask]:
        tasks, visibility_timeout_s = await self.channel.lease(max_tasks)
        self._visibility(visibility_timeout_s)
        return tasks

    # -------------------------------------------------------------- one task

    def _start(self, held: Held) -> None:
        runner = asyncio.create_task(self._process(held))
        held.runner = runner
        self.inflight.add(runner)
        runner.add_done_callback(self._done)

    def _done(self, runner: asyncio.Task[None]) -> None:
        self.inflight.discard(runner)
        self._changed.set()

    async def _process(self, held: Held) -> None:
        task = held.task
        info = TaskInfo.from_leased(task)
        carrier = {"traceparent": task.traceparent} if task.traceparent else {}
        parent = _PROPAGATOR.extract(carrier)
        span: trace.Span | None = None
        if self.config.tracing and _sampled(task.traceparent):
            span = tracer.start_span(
                f"{self.config.queue} process",
                context=parent,
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "taskplane",
                    "messaging.destination.name": self.config.queue,
                    "messaging.message.id": info.id,
                    "taskplane.attempt": info.attempt,
                },
            )
            parent = trace.set_span_in_context(span, parent)
        token = otel_context.attach(parent)
        self._in_flight.inc()
        started = time.monotonic()
        outcome = "lost"
        try:
            outcome = await self._run(held, info, span)
        finally:
            # The slot is free now (``_done`` only signals it), so a lease decided right
            # after counts it.
            if held.runner is not None:
                self.inflight.discard(held.runner)
            if outcome != "completed":
                # A completion stays in flight, and is counted (completed or lost), until
                # the server has its answer.
                self._in_flight.dec()
                self._outcomes[outcome].inc()
            elapsed = time.monotonic() - started
            self._duration.observe(elapsed)
            typical = self._typical_s
            self._typical_s = elapsed if typical is None else typical + (elapsed - typical) / 8
            if span is not None:
                span.end()
            if log.isEnabledFor(logging.INFO):  # in the task's trace context
                log.info(
                    "task %s %s (attempt %d) in %.3fs",
                    info.id,
                    outcome,
                    info.attempt,
                    elapsed,
                    extra={"task_id": info.id, "queue": self.config.queue, "outcome": outcome},
                )
            otel_context.detach(token)

    async def _run(self, held: Held, info: TaskInfo, span: trace.Span | None) -> str:
        """Run the handler and hand its outcome on; returns the outcome label."""
        task = held.task
        try:
            async with asyncio.timeout(info.timeout_s):
                result = await self.handler(info)
        except TimeoutError:
            self._mark(span, "timed out")
            self._fail(task, f"timed out after {info.timeout_s}s", retryable=True)
            return "timed_out"
        except asyncio.CancelledError:
            if not held.lost and not _being_cancelled():
                raise
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            if held.lost:
                self.held.pop(task.lease_id, None)
                return "lost"  # the heartbeat found the lease gone
            # Shutdown past the grace period: hand the task back for another worker.
            self._release(task)
            return "released"
        except HandlerError as exc:
            self._mark(span, str(exc), exc)
            self._fail(task, str(exc), retryable=exc.retryable)
            return "failed"
        except Exception as exc:
            self._mark(span, type(exc).__name__, exc)
            self._fail(task, f"{type(exc).__name__}: {exc}", retryable=True)
            return "failed"
        self._buffer(held, _jsonable(result))
        return "completed"

    @staticmethod
    def _mark(span: trace.Span | None, why: str, exc: BaseException | None = None) -> None:
        if span is None:
            return
        if exc is not None:
            span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, why))

    # -------------------------------------------------------------- main loop

    def stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stopping: no new leases, draining %d task(s)", len(self.inflight))
            self.stopping.set()
            self._changed.set()  # the lease loop looks at ``stopping``
            self._buffer_full.set()  # flush what waits at once

    async def _until_stopped(self, awaitable: Awaitable[Any]) -> Any:
        """Await ``awaitable`` unless a stop comes first (then it is cancelled)."""
        call = asyncio.ensure_future(awaitable)
        stop = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({call, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not call.done():
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await call
            return None
        return call.result()

    def _start_ready(self) -> None:
        while self.ready and len(self.inflight) < self.config.concurrency:
            self._start(self.ready.popleft())

    def _wanted(self) -> int:
        """How many tasks to ask for now: free slots plus prefetch, less what is already
        leased and waiting for a slot, while the buffer has room. A long-poll asks only
        once the prefetched tasks have started (it holds the request until tasks come)."""
        if len(self.buffer) >= self.config.complete_backlog:
            return 0
        if not self.channel.pushes and self.ready:
            return 0
        room = self.config.concurrency + self._prefetch()
        return room - len(self.inflight) - len(self.ready)

    def _prefetch(self) -> int:
        """The configured prefetch; a full batch while handlers are short. A prefetched
        task waits for a slot, and no other worker can take it meanwhile: worth it only
        when slots free faster than a lease round trip (then without it they idle)."""
        typical = self._typical_s
        if typical is not None and typical < self.config.short_task_s:
            return max(self.config.prefetch, self.config.concurrency)
        return self.config.prefetch

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        log.info(
            "worker %s on queue %s (concurrency %d)",
            self.config.worker_id,
            self.config.queue,
            self.config.concurrency,
        )
        completer = asyncio.create_task(self._complete_loop())
        beats = asyncio.create_task(self._heartbeat_loop())
        try:
            await self._lease_loop()
            await self._drain()
            await self._flush_all(completer)
        finally:
            beats.cancel()
            completer.cancel()
            await asyncio.gather(beats, completer, return_exceptions=True)
            await self.channel.aclose()
        return 0

    async def _lease_loop(self) -> None:
        backoff = 0.5
        missing = False
        while not self.stopping.is_set():
            self._start_ready()
            await asyncio.sleep(0)  # handlers that return at once free their slots first
            wanted = self._wanted()
            if wanted <= 0 and not self.channel.pushes:
                self._changed.clear()
                await self._changed.wait()
                continue
            try:
                self._changed.clear()  # a push or a freed slot from here on wakes the wait
                # Pushed tasks are taken even when no more are wanted (their leases are
                # heartbeated once held).
                tasks = await self._until_stopped(self._lease(max(wanted, 0)))
                if missing and tasks is not None:
                    log.info("queue %s exists now; leasing", self.config.queue)
                    missing = False
                if not tasks and self.channel.pushes:
                    await self._changed.wait()
                backoff = 0.5
            except NotFoundError:
                # Not configured yet (the operator, `taskplane queues`, or a first enqueue
                # creates it): said once, then asked again less and less often.
                if not missing:
                    log.warning(
                        "queue %s does not exist: create it (a TaskQueue, `taskplane queues "
                        "put %s` or a first enqueue); checking again after a growing pause "
                        "(at most %ds)",
                        self.config.queue,
                        self.config.queue,
                        MAX_BACKOFF_S,
                    )
                    missing = True
                    backoff = 0.5
                log.debug("queue %s still missing; next check in %.1fs", self.config.queue, backoff)
                await self._until_stopped(asyncio.sleep(backoff))
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            except Exception as exc:
                log.warning("lease failed: %s; retrying in %.1fs", exc, backoff)
                await self._until_stopped(asyncio.sleep(backoff))
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            for task in tasks or ():
                held = Held(task)
                self.held[task.lease_id] = held
                self.ready.append(held)

    async def _drain(self) -> None:
        """Hand prefetched tasks back, let running ones finish within the grace period
        (then release them), and wait for every failure report and release."""
        try:
            async with asyncio.timeout(15):
                late = await self.channel.drain()
        except Exception as exc:
            log.warning("could not stop the lease stream: %s", exc)
        else:
            for task in late:
                self.held[task.lease_id] = held = Held(task)
                self.ready.append(held)
        while self.ready:
            held = self.ready.popleft()
            self._release(held.task)
            self._outcomes["released"].inc()
        if self.inflight:
            _, pending = await asyncio.wait(set(self.inflight), timeout=self.config.grace_period_s)
            if pending:
                log.warning("grace period over: releasing %d unfinished task(s)", len(pending))
                for runner in pending:
                    runner.cancel()
                await asyncio.wait(pending, timeout=15)
        if self.reporting:
            await asyncio.wait(set(self.reporting), timeout=15)

    async def _flush_all(self, completer: asyncio.Task[None]) -> None:
        """Wait until the completer has reported every buffered result (an outage keeps
        trying for up to ``report_retry_s``)."""
        deadline = time.monotonic() + self.config.report_retry_s + 5
        while self.buffer and not completer.done() and time.monotonic() < deadline:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    await self._changed.wait()
        if self.buffer:
            log.error("%d completion(s) could not be reported", len(self.buffer))
        log.info("drained; exiting")
