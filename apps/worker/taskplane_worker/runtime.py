"""The worker loop: lease by free slots, run handlers, report in batches, drain on SIGTERM.

A slot is freed the moment its handler returns. The result goes into the completion
buffer, which one completer task flushes as ``POST /api/v1/leases/complete`` when
``complete_batch`` results wait or ``complete_flush_s`` after the first (River's batch
completer), retrying through an API outage without holding any slot; past
``complete_backlog`` waiting results the worker leases nothing more. Leases ask for the
free slots plus ``prefetch``. One heartbeat loop extends every lease held (running,
prefetched or waiting in the buffer) in one ``POST /api/v1/leases/heartbeat``.

Nothing a handler does can crash the worker: exceptions and timeouts become failed
attempts with the error recorded. Tasks are never lost: a task is either completed,
failed (retried by the server), released on shutdown, or — if this process dies —
reclaimed by the server when its lease expires (at-least-once). On SIGTERM the worker
stops leasing, hands back prefetched tasks, lets running ones finish within the grace
period, then flushes every buffered completion before it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import time
import uuid
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from taskplane_client import (
    NO_RETRY,
    ApiError,
    AsyncTaskplaneClient,
    Completion,
    LeasedTask,
    LeaseLostError,
    NotFoundError,
    RetryPolicy,
)
from taskplane_worker.handlers import Handler, HandlerError, TaskInfo
from taskplane_worker.observability import API_ERRORS, DURATION, IN_FLIGHT, TASKS

__all__ = ["LeaseLostError", "Worker", "WorkerConfig"]

log = logging.getLogger(__name__)
tracer = trace.get_tracer("taskplane_worker")
_PROPAGATOR = TraceContextTextMapPropagator()

#: Completions per request at most (the server accepts up to 1000).
COMPLETE_REQUEST_MAX = 500
#: Heartbeat lease ids per request at most (the server accepts up to 1000).
HEARTBEAT_REQUEST_MAX = 1000


@dataclass(frozen=True)
class WorkerConfig:
    api_url: str
    token: str | None
    queue: str
    concurrency: int
    worker_id: str
    grace_period_s: float
    wait_s: float = 10.0
    #: The auth service, to exchange a ``tps_`` service token for access tokens.
    auth_url: str | None = None
    #: How long to keep retrying complete/fail through an API outage before giving up
    #: (the lease then expires and the task runs again: at-least-once).
    report_retry_s: float = 120.0
    #: How long to keep trying to reach the API at start before giving up.
    startup_timeout_s: float = 60.0
    #: Tasks leased beyond the free slots.
    prefetch: int = 4
    #: Flush the completion buffer at this many results, or ``complete_flush_s`` after
    #: the first one arrived.
    complete_batch: int = 64
    complete_flush_s: float = 0.015
    #: Buffered results beyond which no more tasks are leased.
    complete_backlog: int = 1000
    #: A span per task (when the task's trace is sampled): only worth it when spans are
    #: exported. Without it the handler still runs in the task's trace context.
    tracing: bool = False


def _being_cancelled() -> bool:
    """True when the current task itself is being cancelled (not something it awaited)."""
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return {"repr": repr(value)[:10_000]}
    return value


def _count_api_error(call: str, _: BaseException, __: float) -> None:
    API_ERRORS.labels(call).inc()


def _sampled(traceparent: str | None) -> bool:
    """Whether a W3C traceparent asks for sampling (no parent: the sampler decides)."""
    if not traceparent:
        return True
    try:
        return bool(int(traceparent[-2:], 16) & 1)
    except ValueError:
        return False


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


class Worker:
    def __init__(
        self,
        config: WorkerConfig,
        handler: Handler,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.handler = handler
        self.stopping = asyncio.Event()
        #: Every lease held, by lease id.
        self.held: dict[uuid.UUID, Held] = {}
        #: Leased, not started yet (at most ``prefetch`` beyond the free slots).
        self.ready: deque[Held] = deque()
        self.inflight: set[asyncio.Task[None]] = set()
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
        self.client = AsyncTaskplaneClient(
            config.api_url,
            auth_url=config.auth_url,
            token=config.token,
            retry=RetryPolicy(attempts=None, deadline_s=30, on_retry=_count_api_error),
            timeout_s=15,
            transport=transport,
            user_agent=f"taskplane-worker/{config.worker_id}",
        )
        #: Outcomes are worth retrying for longer: the work is done already.
        self.reports = self.client.with_retry(
            dataclasses.replace(self.client.retry, deadline_s=config.report_retry_s)
        )
        #: One attempt per call, for the loops that retry on their own schedule.
        self.once = self.client.with_retry(NO_RETRY)
        queue = config.queue
        self._in_flight = IN_FLIGHT.labels(queue)
        self._duration = DURATION.labels(queue)
        self._outcomes = {
            outcome: TASKS.labels(queue, outcome)
            for outcome in ("completed", "failed", "timed_out", "released", "lost")
        }

    # -------------------------------------------------------------- API calls

    async def wait_for_api(self) -> None:
        """Reach the task-service (with backoff, up to ``startup_timeout_s``) or raise
        ConnectionFailedError naming its URL."""
        probe = self.client.with_retry(
            RetryPolicy(attempts=None, deadline_s=self.config.startup_timeout_s)
        )
        await probe.health()

    async def _lease(self, max_tasks: int) -> list[LeasedTask]:
        lease = await self.client.lease(
            self.config.queue,
            self.config.worker_id,
            max_tasks=max_tasks,
            wait_s=self.config.wait_s,
        )
        beat_s = max(0.2, lease.visibility_timeout_s / 3)
        if beat_s != self._beat_s:
            self._beat_s = beat_s
            self._beat_changed.set()
        return lease.tasks

    def _report(self, call: Awaitable[Any], task: LeasedTask, what: str) -> None:
        """Send a failure or a release in the background (no slot waits for it); the
        lease is held, and heartbeated, until the answer."""

        async def send() -> None:
            try:
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
        worker = self.config.worker_id
        failure = self.reports.fail(task, error, retryable=retryable, worker_id=worker)
        self._report(failure, task, "failure")

    def _release(self, task: LeasedTask) -> None:
        release = self.once.release(task, self.config.worker_id)
        self._report(asyncio.wait_for(release, timeout=5), task, "release")

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
            if len(self.buffer) < self.config.complete_batch and not self.stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._buffer_full.wait(), self.config.complete_flush_s)
            await self._flush()

    async def _flush(self) -> None:
        """Send one batch from the head of the buffer; on an error worth retrying it
        stays there (its leases heartbeated meanwhile) until ``report_retry_s``."""
        batch = self.buffer[:COMPLETE_REQUEST_MAX]
        items = [Completion(lease_id=e.held.task.lease_id, result=e.result) for e in batch]
        first = batch[0].span_context
        token = (
            otel_context.attach(trace.set_span_in_context(trace.NonRecordingSpan(first)))
            if first is not None
            else None
        )
        try:
            answer = await self.once.complete_many(items, self.config.worker_id)
        except Exception as exc:
            if self._retry_later(exc, batch):
                return
            answer = None
            log.error("could not report %d completion(s): %s", len(batch), exc)
        finally:
            if token is not None:
                otel_context.detach(token)
        del self.buffer[: len(batch)]
        self._settled(batch, answer)

    def _retry_later(self, exc: Exception, batch: list[Buffered]) -> bool:
        """Whether ``batch`` stays buffered for another attempt (after a pause)."""
        retryable = not isinstance(exc, ApiError) or exc.status >= 500 or exc.status == 429
        if not retryable or time.monotonic() - batch[0].since > self.config.report_retry_s:
            return False
        _count_api_error("complete_many", exc, 0.0)
        log.warning("reporting %d completion(s) failed: %s; retrying", len(self.buffer), exc)
        self._buffered.clear()
        asyncio.get_running_loop().call_later(0.5, self._buffered.set)
        return True

    def _settled(self, batch: list[Buffered], answer: list[Any] | None) -> None:
        completed = (
            {item.lease_id for item in answer if item.completed} if answer is not None else set()
        )
        lost = 0
        for entry in batch:
            lease_id = entry.held.task.lease_id
            self.held.pop(lease_id, None)
            if lease_id in completed:
                continue
            lost += 1
            if answer is not None:
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
        """Extend every held lease in one request per ``_beat_s``, until cancelled; a
        lease the server no longer extends stops its task."""
        while True:
            self._beat_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._beat_changed.wait(), self._beat_s)
                continue  # a queue with another visibility timeout: wait that long
            lease_ids = list(self.held)
            for start in range(0, len(lease_ids), HEARTBEAT_REQUEST_MAX):
                chunk = lease_ids[start : start + HEARTBEAT_REQUEST_MAX]
                try:
                    alive = await self.once.heartbeat_many(chunk, self.config.worker_id)
                except Exception as exc:
                    _count_api_error("heartbeat_many", exc, 0.0)
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
            result = await asyncio.wait_for(self.handler(info), timeout=info.timeout_s)
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
        """How many tasks to ask for now: free slots plus prefetch, once the prefetched
        ones have started and the buffer has room."""
        if self.ready or len(self.buffer) >= self.config.complete_backlog:
            return 0
        return self.config.concurrency + self.config.prefetch - len(self.inflight)

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
            await self.client.aclose()
        return 0

    async def _lease_loop(self) -> None:
        backoff = 0.5
        missing_logged = False
        while not self.stopping.is_set():
            self._start_ready()
            await asyncio.sleep(0)  # handlers that return at once free their slots first
            wanted = self._wanted()
            if wanted <= 0:
                self._changed.clear()
                await self._until_stopped(self._changed.wait())
                continue
            try:
                tasks = await self._until_stopped(self._lease(wanted))
                backoff = 0.5
            except NotFoundError:
                # Not configured yet (the operator or a first enqueue creates it).
                if not missing_logged:
                    log.warning("queue %s does not exist yet; waiting", self.config.queue)
                    missing_logged = True
                await self._until_stopped(asyncio.sleep(2))
                continue
            except Exception as exc:
                log.warning("lease failed: %s; retrying in %.1fs", exc, backoff)
                await self._until_stopped(asyncio.sleep(backoff))
                backoff = min(backoff * 2, 15)
                continue
            for task in tasks or ():
                held = Held(task)
                self.held[task.lease_id] = held
                self.ready.append(held)

    async def _drain(self) -> None:
        """Hand prefetched tasks back, let running ones finish within the grace period
        (then release them), and wait for every failure report and release."""
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
                await asyncio.wait_for(self._changed.wait(), 1)
        if self.buffer:
            log.error("%d completion(s) could not be reported", len(self.buffer))
        log.info("drained; exiting")
