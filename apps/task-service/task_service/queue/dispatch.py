"""The streaming lease's dispatcher: the claims of every worker streaming a queue.

A worker on ``/api/v1/queues/{queue}/lease-stream`` (a WebSocket) is a ``Subscriber``
with credit: how many more tasks it has room for. Each queue with subscribers in this
process has one ``Dispatcher`` task; each tick it claims for every subscriber with
credit, on one pooled connection, one claim statement (``leases.lease``) per such
worker (each task's ``leased_by`` names its worker, as the HTTP lease does), pushes each
worker its tasks, and, when the queue has nothing, sleeps until a NOTIFY for the queue
(or the notifier's poll interval). No HTTP request per lease, no long-poll per worker.

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
from task_service.queue.driver import Executor
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

    @property
    def credit(self) -> int:
        return max(0, self.granted - self.delivered)


@dataclass(eq=False)
class Dispatcher:
    """The claim loop of one queue; it runs while the queue has subscribers."""

    queue: str
    pool: QueuePool
    notifier: Notifier
    settings: Settings
    subscribers: list[Subscriber] = field(default_factory=list)
    #: Credit arrived (or a subscriber left): the idle loop looks again.
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    #: Held for a claim and its delivery, so a subscriber that leaves (``unsubscribe``)
    #: has received everything claimed for it when it is told it has left.
    tick: asyncio.Lock = field(default_factory=asyncio.Lock)
    runner: asyncio.Task[None] | None = None

    def grant(self, subscriber: Subscriber, granted: int) -> None:
        """Set how many tasks ``subscriber`` has asked for since it connected."""
        subscriber.granted = granted
        if subscriber.credit:
            self.changed.set()

    async def _claim(self, connection: Executor, subscriber: Subscriber) -> Lease:
        settings = self.settings
        return await lease(
            connection,
            self.queue,
            subscriber.worker_id,
            min(subscriber.credit, settings.max_lease_batch),
            timeout_grace_s=settings.timeout_grace_s,
            reclaim_batch=settings.reaper_batch,
        )

    async def _tick(self) -> bool:
        """Claim for every subscriber with credit and deliver; whether any task was
        claimed. Tasks that cannot be delivered (a subscriber gone) are handed back."""
        async with self.tick:
            takers = [s for s in self.subscribers if s.credit]
            if not takers:
                return False
            claimed = False
            async with self.pool.connection() as connection:
                for subscriber in takers:
                    with receiving(self.queue, root=True) as span:
                        granted = await self._claim(connection, subscriber)
                        linked(span, granted.tasks)
                    if not granted.tasks:
                        continue
                    claimed = True
                    subscriber.delivered += len(granted.tasks)
                    if not await subscriber.deliver(granted.tasks, granted):
                        await hand_back(connection, granted.tasks)
            return claimed

    async def run(self) -> None:
        # Subscribed to the queue's wake-ups for the whole loop, so a NOTIFY (sent only
        # when the queue goes from empty to non-empty) that lands during a claim wakes
        # the next wait instead of being lost.
        with self.notifier.subscribe(QUEUE_CHANNEL, self.queue) as woken:
            await self._loop(woken)

    async def _loop(self, woken: Subscription) -> None:
        backoff = 0.5
        while self.subscribers:
            self.changed.clear()
            try:
                claimed = await self._tick()
                backoff = 0.5
            except QueueNotFound as exc:
                for subscriber in list(self.subscribers):
                    await subscriber.gone(exc)
                return
            except Exception as exc:
                log.warning("lease stream of %s: claim failed (%s)", self.queue, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if claimed:
                continue
            if any(s.credit for s in self.subscribers):
                await woken.wait(self.settings.max_wait_s)
            else:
                await self.changed.wait()

    def subscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.append(subscriber)
        STREAMS.labels(self.queue).inc()
        if self.runner is None or self.runner.done():
            self.runner = asyncio.create_task(self.run(), name=f"lease-stream {self.queue}")

    async def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop dealing to ``subscriber``; returns once no claim for it is under way."""
        async with self.tick:
            if subscriber in self.subscribers:
                self.subscribers.remove(subscriber)
                STREAMS.labels(self.queue).dec()
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
