"""The worker loop: lease in batches, run handlers, heartbeat, report, drain on SIGTERM.

Completions that happen together travel together: while one ``POST
/api/v1/leases/complete`` is in flight, the tasks finishing meanwhile queue up and go in
the next request (no timer, so a lone completion is sent at once). A server without that
endpoint gets one ``/leases/{lease_id}/complete`` per task, as before.

Nothing a handler does can crash the worker: exceptions and timeouts become failed
attempts with the error recorded. Tasks are never lost: a task is either completed,
failed (retried by the server), released on shutdown, or — if this process dies —
reclaimed by the server when its lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import httpx
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

#: Completions per batch request (the server accepts up to 1000).
COMPLETE_BATCH_MAX = 100


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


#: A completion waiting for the next batch: the task, its result, who awaits it.
Pending = tuple[LeasedTask, Any, "asyncio.Future[None]"]


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
        self.inflight: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()
        #: Completions waiting for the next batch request, and the task sending them.
        self._completions: list[Pending] = []
        self._completer: asyncio.Task[None] | None = None
        #: False once the server answered the batch endpoint with 404/405 (older server).
        self._batch_complete = True
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
        return lease.tasks

    async def _fail(self, task: LeasedTask, error: str, *, retryable: bool) -> None:
        await self.reports.fail(task, error, retryable=retryable, worker_id=self.config.worker_id)

    async def _complete_one(self, task: LeasedTask, result: Any) -> None:
        await self.reports.complete(task, result, self.config.worker_id)

    async def _complete(self, task: LeasedTask, result: Any) -> None:
        """Report a completion, batched with others finishing at the same time; raises
        LeaseLostError when the server no longer recognises the lease."""
        if not self._batch_complete:
            await self._complete_one(task, result)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._completions.append((task, result, future))
        if self._completer is None or self._completer.done():
            self._completer = asyncio.create_task(self._send_completions())
        await future

    async def _send_completions(self) -> None:
        while self._completions:
            batch = self._completions[:COMPLETE_BATCH_MAX]
            del self._completions[:COMPLETE_BATCH_MAX]
            # A waiter cancelled before its batch left (shutdown) releases its task instead.
            batch = [entry for entry in batch if not entry[2].done()]
            if not batch:
                continue
            try:
                outcomes = await self._complete_batch(batch)
            except Exception as exc:
                outcomes = [exc] * len(batch)
            for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if outcome is None:
                    future.set_result(None)
                else:
                    future.set_exception(outcome)

    async def _complete_batch(self, batch: list[Pending]) -> list[BaseException | None]:
        """One batch request; None for each completed task, else the error to raise."""
        if self._batch_complete:
            items = [Completion(lease_id=task.lease_id, result=result) for task, result, _ in batch]
            try:
                answer = await self.reports.complete_many(items, self.config.worker_id)
            except ApiError as exc:
                if exc.status not in (404, 405):
                    raise
                log.info("the task-service has no batch complete; completing one by one")
                self._batch_complete = False
            else:
                return [
                    None if item.completed else LeaseLostError(409, "lease unknown or expired")
                    for item in answer
                ]
        singles = await asyncio.gather(
            *(self._complete_one(task, result) for task, result, _ in batch),
            return_exceptions=True,
        )
        return [outcome if isinstance(outcome, BaseException) else None for outcome in singles]

    # -------------------------------------------------------------- one task

    async def _process(self, task: LeasedTask) -> None:
        queue = self.config.queue
        info = TaskInfo.from_leased(task)
        carrier = {"traceparent": task.traceparent} if task.traceparent else {}
        parent = TraceContextTextMapPropagator().extract(carrier)
        IN_FLIGHT.labels(queue).inc()
        started = time.monotonic()
        with tracer.start_as_current_span(
            f"{queue} process",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "taskplane",
                "messaging.destination.name": queue,
                "messaging.message.id": info.id,
                "taskplane.attempt": info.attempt,
            },
        ) as span:
            work = asyncio.ensure_future(self.handler(info))
            beat = asyncio.create_task(
                self.client.keep_leased(task, self.config.worker_id, on_lost=work.cancel)
            )
            outcome = "lost"
            try:
                outcome = await self._run(task, info, work, span)
            finally:
                beat.cancel()
                IN_FLIGHT.labels(queue).dec()
                elapsed = time.monotonic() - started
                DURATION.labels(queue).observe(elapsed)
                log.info(
                    "task %s %s (attempt %d) in %.3fs",
                    info.id,
                    outcome,
                    info.attempt,
                    elapsed,
                    extra={"task_id": info.id, "queue": queue, "outcome": outcome},
                )
        TASKS.labels(queue, outcome).inc()

    async def _run(
        self, task: LeasedTask, info: TaskInfo, work: asyncio.Task[Any], span: trace.Span
    ) -> str:
        """Wait for the handler and report its outcome; returns the outcome label."""
        try:
            try:
                result = await asyncio.wait_for(asyncio.shield(work), timeout=info.timeout_s)
            except TimeoutError:
                work.cancel()
                span.set_status(Status(StatusCode.ERROR, "timed out"))
                error = f"timed out after {info.timeout_s}s"
                await self._fail(task, error, retryable=True)
                return "timed_out"
            except asyncio.CancelledError:
                if not _being_cancelled():
                    return "lost"  # the heartbeat found the lease gone and cancelled work
                raise
            except HandlerError as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                await self._fail(task, str(exc), retryable=exc.retryable)
                return "failed"
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                error = f"{type(exc).__name__}: {exc}"
                await self._fail(task, error, retryable=True)
                return "failed"
            await self._complete(task, _jsonable(result))
            return "completed"
        except asyncio.CancelledError:
            # Shutdown past the grace period: hand the task back for another worker.
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            work.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self.client.with_retry(NO_RETRY).release(task, self.config.worker_id),
                    timeout=5,
                )
            return "released"
        except LeaseLostError:
            log.warning("task %s: lease expired or revoked before reporting", task.id)
            return "lost"
        except Exception as exc:
            log.error("task %s: could not report its outcome: %s", task.id, exc)
            return "lost"

    # -------------------------------------------------------------- main loop

    def stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stopping: no new leases, draining %d task(s)", len(self.inflight))
            self.stopping.set()

    def _done(self, future: asyncio.Task[None]) -> None:
        self.inflight.discard(future)
        self._slot_freed.set()

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
        backoff = 0.5
        missing_logged = False
        try:
            while not self.stopping.is_set():
                free = self.config.concurrency - len(self.inflight)
                if free <= 0:
                    self._slot_freed.clear()
                    await self._until_stopped(self._slot_freed.wait())
                    continue
                try:
                    tasks = await self._until_stopped(self._lease(free))
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
                    future = asyncio.create_task(self._process(task))
                    self.inflight.add(future)
                    future.add_done_callback(self._done)
            await self._drain()
        finally:
            if self._completer is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(self._completer), timeout=15)
                self._completer.cancel()
            await self.client.aclose()
        return 0

    async def _drain(self) -> None:
        if self.inflight:
            _, pending = await asyncio.wait(set(self.inflight), timeout=self.config.grace_period_s)
            if pending:
                log.warning("grace period over: releasing %d unfinished task(s)", len(pending))
                for future in pending:
                    future.cancel()
                await asyncio.wait(pending, timeout=15)
        log.info("drained; exiting")
