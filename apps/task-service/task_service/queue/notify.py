"""LISTEN/NOTIFY fan-out that wakes long-polls (leases and the event feed).

One autocommit psycopg connection per process LISTENs and wakes every waiter of a
channel/key. The queue channel is sent when a queue goes from empty to non-empty
(``sql.wake``), the feed's at most once per 20 ms and echoed here. Notifications are
only a hint: waiters also re-check on a jittered poll interval, so a lost connection, a
missed NOTIFY or a scheduled task coming due only costs latency, never correctness.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Iterator

import psycopg

from taskplane_common import background

log = logging.getLogger(__name__)

QUEUE_CHANNEL = "taskplane_queue"
EVENTS_CHANNEL = "taskplane_events"
#: The feed's trigger notifies at most once per 20 ms (migration 0008), so events
#: written just after a notification send none: feed readers are woken once more this
#: long after each one, which picks those up.
FEED_ECHO_S = 0.04


class Notifier:
    """Background listener; ``wait(channel, key, timeout)`` returns early when notified."""

    def __init__(self, conninfo: str, poll_interval_s: float) -> None:
        self.conninfo = conninfo
        self.poll_interval_s = poll_interval_s
        self._waiters: dict[tuple[str, str], set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notifier")

    async def stop(self) -> None:
        await background.stop(self._task)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 0.5
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                async with connection:
                    await connection.execute(f"LISTEN {QUEUE_CHANNEL}")
                    await connection.execute(f"LISTEN {EVENTS_CHANNEL}")
                    self.connected.set()
                    backoff = 0.5
                    async for note in connection.notifies():
                        self._wake(note.channel, note.payload)
                        if note.channel == EVENTS_CHANNEL:
                            loop.call_later(FEED_ECHO_S, self._wake, EVENTS_CHANNEL, "")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected.clear()
                log.warning("LISTEN connection lost (%s); polling until it is back", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    def _wake(self, channel: str, key: str) -> None:
        for waiter_key in ((channel, key), (channel, "")):
            for event in self._waiters.get(waiter_key, ()):
                event.set()

    @contextlib.contextmanager
    def subscribe(self, channel: str, key: str) -> Iterator[Subscription]:
        """A waiter on (channel, key) for as long as the block runs, so a notification
        that arrives between two waits (while its holder claims) is not lost."""
        event = asyncio.Event()
        waiters = self._waiters[(channel, key)]
        waiters.add(event)
        try:
            yield Subscription(event, self.poll_interval_s)
        finally:
            waiters.discard(event)
            if not waiters:
                self._waiters.pop((channel, key), None)

    async def wait(self, channel: str, key: str, timeout_s: float) -> None:
        """Sleep until notified on (channel, key) or a jittered poll interval elapses."""
        with self.subscribe(channel, key) as subscription:
            await subscription.wait(timeout_s)


class Subscription:
    """A registered waiter of ``Notifier.subscribe``."""

    def __init__(self, event: asyncio.Event, poll_interval_s: float) -> None:
        self._event = event
        self._poll_interval_s = poll_interval_s

    async def wait(self, timeout_s: float) -> None:
        """Return at once when notified since the last ``wait`` returned, else sleep until
        notified or a jittered poll interval (at most ``timeout_s``) elapses."""
        interval = self._poll_interval_s * random.uniform(0.75, 1.25)  # noqa: S311 - jitter
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, min(timeout_s, interval))):
                await self._event.wait()
        self._event.clear()
