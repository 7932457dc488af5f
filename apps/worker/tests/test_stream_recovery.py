"""A streaming worker when the service cannot serve it, against real processes: its queue
is missing (said once, checked again with a growing pause, leased once it exists), or the
service (here a WebSocket front before it) accepts the stream and then stops answering
(the worker drops the stream after its answer timeout, reconnects, and nothing the
service accepted is lost: the leases nobody answered for come back after their
visibility timeout and run again)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from taskplane_testing import workers as kit
from taskplane_testing.waiting import eventually
from taskplane_testing.workers import TaskService, Workers


def _messages(log: str) -> list[str]:
    """The messages of a worker's JSON log, in order."""
    return [json.loads(line)["message"] for line in log.splitlines() if line.startswith("{")]


def test_a_missing_queue_is_said_once_and_leased_once_created(
    task_service: TaskService, workers: Workers
) -> None:
    queue = f"late-{uuid.uuid4().hex[:6]}"
    workers.start(queue, "builtin:noop", worker_id="late", env={"LOG_LEVEL": "DEBUG"})

    def checks() -> list[str]:
        return [m for m in _messages(workers.log("late")) if "still missing" in m]

    kit.wait_for(lambda: len(checks()) >= 3, 120, "the worker never checked three times")
    pauses = [re.findall(r"next check in ([\d.]+)s", message) for message in checks()[:3]]
    assert pauses == [["0.5"], ["1.0"], ["2.0"]], "the pause grows"
    kit.enqueue(task_service, queue, [{"payload": {}}])  # a first enqueue creates the queue
    kit.wait_for(lambda: kit.statuses(task_service, queue) == {"completed": 1}, 120, "never leased")
    said = _messages(workers.log("late"))
    assert sum("does not exist" in m for m in said) == 1, said
    assert sum(f"queue {queue} exists now" in m for m in said) == 1, said


@dataclass
class SilencingFront:
    """A WebSocket front for a task-service. Plain HTTP requests are passed on. The first
    lease stream is relayed until it has delivered one batch of tasks; then it goes
    silent: it reads everything and answers nothing (the WebSocket stays open, pings
    are still answered), swallows whatever the service deals to it, and keeps its
    upstream stream open until ``released``. Until then new streams are refused (503)."""

    backend: str
    silent: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    #: The ids of the tasks the service dealt to the silent stream (never delivered).
    swallowed: list[str] = field(default_factory=list)
    streams: int = 0

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        """Serve on a free 127.0.0.1 port; its URL. Leaving also ends the silent stream."""
        relay, answer = self.relay, self.process_request
        async with serve(relay, "127.0.0.1", 0, process_request=answer) as server:
            try:
                yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            finally:
                self.released.set()

    async def process_request(self, connection: ServerConnection, request: Request) -> Any:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            async with httpx.AsyncClient() as http:
                answer = await http.get(self.backend + request.path)
            headers = Headers({"Content-Length": str(len(answer.content)), "Connection": "close"})
            return Response(answer.status_code, answer.reason_phrase, headers, answer.content)
        if self.silent.is_set() and not self.released.is_set():
            return connection.respond(503, "the front is silent\n")
        return None

    async def relay(self, client: ServerConnection) -> None:
        self.streams += 1
        first = self.streams == 1
        assert client.request is not None
        url = self.backend.replace("http://", "ws://") + client.request.path
        async with connect(url, compression=None) as upstream:
            down = asyncio.create_task(self._down(upstream, client, first))
            try:
                async for message in client:
                    if not (first and self.silent.is_set()):
                        await upstream.send(message)
            except ConnectionClosed:
                pass
            if first:
                await self.released.wait()
            down.cancel()

    async def _down(self, upstream: Any, client: ServerConnection, first: bool) -> None:
        async for raw in upstream:
            message = json.loads(raw)
            if first and self.silent.is_set():
                if message.get("op") == "tasks":
                    self.swallowed.extend(task["id"] for task in message["tasks"])
                continue
            try:
                await client.send(raw)
            except ConnectionClosed:
                return
            if first and message.get("op") == "tasks":
                self.silent.set()


def _until(check: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
    async def checked() -> Any:
        return check()

    return checked


async def _silenced(task_service: TaskService, workers: Workers, queue: str) -> list[str]:
    """Run a worker through a front that goes silent; the ids of the tasks swallowed."""
    front = SilencingFront(task_service.url)
    async with front.serving() as url:
        env = {"TASKPLANE_API_URL": url, "TASKPLANE_WORKER_ANSWER_TIMEOUT_S": "1"}
        worker = workers.start(queue, "builtin:noop", worker_id="silenced", env=env)
        await asyncio.wait_for(front.silent.wait(), 120)
        dealt_later = kit.enqueue(task_service, queue, [{"payload": {"n": n}} for n in range(3)])
        await eventually(_until(lambda: len(front.swallowed) == 3), within=120)
        # The worker gives up on the silent stream by itself (its completion went unanswered).
        log = _until(lambda: "no answer to" in workers.log("silenced"))
        await eventually(log, within=120)
        front.released.set()
        completed = _until(lambda: kit.statuses(task_service, queue) == {"completed": 4})
        await eventually(completed, within=120)
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 60) == 0
    assert sorted(front.swallowed) == sorted(dealt_later)
    return front.swallowed


def test_a_stream_that_stops_answering_is_dropped_and_nothing_is_lost(
    task_service: TaskService, workers: Workers
) -> None:
    queue = f"silenced-{uuid.uuid4().hex[:6]}"
    kit.configure(task_service, queue, visibility_timeout_s=3, max_attempts=10)
    kit.enqueue(task_service, queue, [{"payload": {"n": "first"}}])
    swallowed = asyncio.run(_silenced(task_service, workers, queue))
    for task_id in swallowed:
        # Leased to the silent stream, back after the visibility timeout, run again.
        assert kit.task(task_service, task_id)["attempts"] >= 2
    events = task_service.completions(queue)
    assert len(events) == 4, events
    assert set(events.values()) == {1}, "a task completed twice"
    log = workers.log("silenced")
    assert "Traceback" not in log, log
