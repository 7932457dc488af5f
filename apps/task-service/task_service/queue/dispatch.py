"""The streaming lease's dispatcher: the claims of every worker streaming a queue.

A worker on ``/api/v1/queues/{queue}/lease-stream`` (a WebSocket) is a ``Subscriber``
with credit: how many more tasks it has room for. Credit is served the moment it
arrives: each subscriber with credit has one claim loop of its own (``leases.lease`` on a
pooled connection, each task's ``leased_by`` naming its worker, as the HTTP lease does)
that claims and pushes tasks while credit lasts, so one worker's claim never waits for
another's, and a worker that frees slots gets tasks one claim round trip later. When a
claim finds the queue short, the queue counts as empty: credit then waits until the
queue's ``Dispatcher`` (one per queue with subscribers in this process) is woken by a
NOTIFY for the queue (or the notifier's poll interval) and serves every subscriber's
credit again. No HTTP request per lease, no long-poll per worker.

Tasks whose delivery fails (the socket is gone) are handed back at once, attempt not
counted; a delivered task whose worker dies is rescued when its lease expires, like any
other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI
from prometheus_client import Gauge

from task_service.config import Settings
from task_service.queue.errors import QueueNotFound
from task_service.queue.leases import Lease, hand_back, lease
from task_service.queue.notify import QUEUE_CHANNEL, Notifier, Subscription
from task_service.queue.pool import QueuePool
from task_service.queue.records import Leased
from task_service.queue.telemetry import linked, receiving

log = logging.getLogger(__name__)

STREAMS = Gauge(
    "taskplane_queue_lease_streams",
    "Workers connected to this process over the streaming lease.",
    ["queue"],
)

#: Delivers a batch to one subscriber; False when its connection is gone.
Deliver = Callable[[list[Leased], Lease], Awaitable[bool]]
#: Tells a subscriber its queue is gone (the stream then ends).
Gone = Callable[[QueueNotFound], Awaitable[None]]


@dataclass(eq=False)
class Subscriber:
    """One worker's stream: its credit is ``granted - delivered``."""

    worker_id: str
    deliver: Deliver
    gone: Gone
    granted: int = 0
    delivered: int = 0
    #: Its claim loop while one runs (one at most, so its batches arrive in order).
    serving: asyncio.Task[None] | None = None

    @property
    def credit(self) -> int:
        return max(0, self.granted - self.delivered)


@dataclass(eq=False)
class Dispatcher:
    """A queue's subscribers, their claim loops, and the watch that wakes them."""

    queue: str
    pool: QueuePool
    notifier: Notifier
    settings: Settings
    subscribers: list[Subscriber] = field(default_factory=list)
    #: The last claim came back short: credit waits for the queue's NOTIFY (or the poll).
    empty: bool = False
    #: A claim failed: claims pause for ``backoff`` seconds (the database, most likely).
    failing: bool = False
    backoff: float = 0.5
    #: A claim found the queue deleted: every stream is told, and ends.
    deleted: QueueNotFound | None = None
    #: Something the watch loop acts on happened (empty, failing, deleted, left).
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    runner: asyncio.Task[None] | None = None

    def grant(self, subscriber: Subscriber, granted: int) -> None:
        """Set how many tasks ``subscriber`` has asked for since it connected, and serve
        the credit at once."""
        subscriber.granted = granted
        self._serve(subscriber)

    def _serve(self, subscriber: Subscriber) -> None:
        """Start claiming for ``subscriber`` unless there is nothing to do yet: no credit,
        a claim for it under way, or the queue empty, failing or deleted."""
        if (
            subscriber.credit
            and not (self.empty or self.failing or self.deleted)
            and (subscriber.serving is None or subscriber.serving.done())
            and subscriber in self.subscribers
        ):
            subscriber.serving = asyncio.create_task(
                self._claims(subscriber), name=f"lease-stream {self.queue} {subscriber.worker_id}"
            )

    async def _claim(self, subscriber: Subscriber, wanted: int) -> Lease:
        settings = self.settings
        with receiving(self.queue, root=True) as span:
            async with self.pool.connection() as connection:
                granted = await lease(
                    connection,
                    self.queue,
                    subscriber.worker_id,
                    wanted,
                    timeout_grace_s=settings.timeout_grace_s,
                    reclaim_batch=settings.reaper_batch,
                )
            linked(span, granted.tasks)
        return granted

    async def _claims(self, subscriber: Subscriber) -> None:
        """Claim and deliver for ``subscriber`` while it has credit and the queue has
        tasks. Tasks it can no longer receive are handed back."""
        while subscriber.credit and subscriber in self.subscribers:
            if self.empty or self.failing or self.deleted:
                return
            wanted = min(subscriber.credit, self.settings.max_lease_batch)
            try:
                granted = await self._claim(subscriber, wanted)
                if granted.tasks:
                    subscriber.delivered += len(granted.tasks)
                    if not await subscriber.deliver(granted.tasks, granted):
                        async with self.pool.connection() as connection:
                            await hand_back(connection, granted.tasks)
            except QueueNotFound as exc:
                self.deleted = exc
                self.changed.set()
                return
            except Exception as exc:
                log.warning("lease stream of %s: claim failed (%s)", self.queue, exc)
                self.failing = True
                self.changed.set()
                return
            self.backoff = 0.5
            if len(granted.tasks) < wanted:
                self.empty = True
                self.changed.set()
                return

    async def run(self) -> None:
        # Subscribed to the queue's wake-ups for the whole loop, so a NOTIFY (sent only
        # when the queue goes from empty to non-empty) that lands during a claim wakes
        # the next wait instead of being lost.
        with self.notifier.subscribe(QUEUE_CHANNEL, self.queue) as woken:
            await self._watch(woken)

    async def _watch(self, woken: Subscription) -> None:
        """Wait out an empty queue or a failure, then serve every subscriber's credit."""
        while self.subscribers:
            self.changed.clear()
            if self.deleted is not None:
                for subscriber in list(self.subscribers):
                    await subscriber.gone(self.deleted)
                return
            if self.failing:
                await asyncio.sleep(self.backoff)
                self.backoff = min(self.backoff * 2, 5.0)
                self.failing = False
            elif self.empty:
                await woken.wait(self.settings.max_wait_s)
                self.empty = False
            else:
                await self.changed.wait()
                continue
            for subscriber in list(self.subscribers):
                self._serve(subscriber)

    def subscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.append(subscriber)
        STREAMS.labels(self.queue).inc()
        if self.runner is None or self.runner.done():
            self.empty = self.failing = False
            self.deleted = None
            self.runner = asyncio.create_task(self.run(), name=f"lease-stream {self.queue}")

    async def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop dealing to ``subscriber``; returns once no claim for it is under way (so
        it has received everything claimed for it)."""
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)
            STREAMS.labels(self.queue).dec()
        serving = subscriber.serving
        if serving is not None and serving is not asyncio.current_task():
            await asyncio.wait({serving})
        self.changed.set()


class Dispatchers:
    """Every queue's dispatcher in this process (on ``app.state``)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.by_queue: dict[str, Dispatcher] = {}

    @classmethod
    def of(cls, app: FastAPI) -> Dispatchers:
        dispatchers: Dispatchers | None = getattr(app.state, "dispatchers", None)
        if dispatchers is None:
            dispatchers = app.state.dispatchers = cls(app)
        return dispatchers

    def dispatcher(self, queue: str) -> Dispatcher:
        found = self.by_queue.get(queue)
        if found is None:
            state = self.app.state
            found = self.by_queue[queue] = Dispatcher(
                queue, QueuePool.of(self.app), state.notifier, state.settings
            )
        return found

    def forget(self, queue: str) -> None:
        """Drop the queue's dispatcher once nobody streams it (its loop then ends)."""
        found = self.by_queue.get(queue)
        if found is not None and not found.subscribers:
            del self.by_queue[queue]
