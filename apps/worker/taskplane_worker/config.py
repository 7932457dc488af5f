"""What a worker is told: its queue, its API, its limits and how it batches."""

from __future__ import annotations

from dataclasses import dataclass


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
    #: While handlers take less than this on average, the prefetch grows to a full
    #: batch (``concurrency``), so the slots stay busy across a lease round trip; 0: never.
    short_task_s: float = 0.02
    #: Flush the completion buffer at this many results, or ``complete_flush_s`` after
    #: the first one arrived.
    complete_batch: int = 64
    complete_flush_s: float = 0.015
    #: Buffered results beyond which no more tasks are leased.
    complete_backlog: int = 1000
    #: A span per task (when the task's trace is sampled): only worth it when spans are
    #: exported. Without it the handler still runs in the task's trace context.
    tracing: bool = False
    #: Lease over the streaming lease (one WebSocket); False: the HTTP lease long-poll
    #: and one request per batch of lease actions.
    stream: bool = True
    #: How long a call on the stream waits for its answer before the stream is dropped
    #: and a new one opened; None: the queue's visibility timeout.
    answer_timeout_s: float | None = None
