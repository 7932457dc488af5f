"""The streaming lease: one WebSocket per worker, credit up, tasks down.

``/api/v1/queues/{queue}/lease-stream`` replaces the lease long-poll and the lease
action requests with messages on one connection (the task-service's ``queue.stream``
describes them): the worker says how many tasks it has room for, the service's
dispatcher pushes tasks as they are claimed, and completions, heartbeats, failures and
releases are answered on the same connection. A refused handshake raises the
:class:`~taskplane_client.errors.ApiError` of its problem+json answer; a connection
that ends raises :class:`~taskplane_client.errors.ConnectionFailedError` from every
pending call, and a new stream must be opened (leases held stay valid: they are judged
by lease id).

Every call waits for its answer at most ``answer_timeout_s`` (by default the queue's
visibility timeout: a heartbeat answered later is worth nothing, the leases it would
extend have expired meanwhile). A service, or a proxy, that keeps the connection open
and stops answering ends the stream that way: the call raises ConnectionFailedError,
as does every other pending one, and the connection is dropped. Nothing it accepted is
lost: an action that was applied stays applied, and leases nobody answered for come
back to the queue after their visibility timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import httpx
from opentelemetry import propagate
from pydantic import TypeAdapter
from pydantic_core import from_json, to_json
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from taskplane_client.errors import ApiError, ConnectionFailedError, error_from_response
from taskplane_client.models import LeasedTask

_TASKS: TypeAdapter[list[LeasedTask]] = TypeAdapter(list[LeasedTask])
#: The close code of a stream whose queue was deleted.
QUEUE_GONE = 4404


class Outcome(Protocol):
    """What a completion needs: a ``Completion``, or a worker's own record of a result."""

    @property
    def lease_id(self) -> uuid.UUID: ...

    @property
    def result(self) -> Any: ...


def stream_url(api_url: str, queue: str, worker_id: str) -> str:
    base = api_url.rstrip("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return str(
        httpx.URL(f"{base}/api/v1/queues/{queue}/lease-stream", params={"worker_id": worker_id})
    )


def _problem_error(url: str, status: int, problem: Any, headers: Any = None) -> ApiError:
    """The typed error of a problem+json answer (the client's usual mapping)."""
    response = httpx.Response(
        status,
        content=bytes(problem) if isinstance(problem, bytes | bytearray) else to_json(problem),
        headers=headers,
        request=httpx.Request("GET", url),
    )
    return error_from_response(response, lease_call=True)


class LeaseStream:
    """An open stream; :meth:`open` it, then :meth:`want` and :meth:`tasks`."""

    def __init__(
        self, url: str, connection: ClientConnection, *, answer_timeout_s: float | None = None
    ) -> None:
        self.url = url
        self.connection = connection
        #: Tasks asked for and received since the stream opened (credit is the gap).
        self.granted = 0
        self.delivered = 0
        self.visibility_timeout_s = 30
        #: How long a call waits for its answer; None: the queue's visibility timeout.
        self.answer_timeout_s = answer_timeout_s
        self._inbox: list[LeasedTask] = []
        self._arrived = asyncio.Event()
        self._answers: dict[int, asyncio.Future[Any]] = {}
        self._refs = itertools.count(1)
        self.error: Exception | None = None
        #: Called whenever tasks arrive or the stream ends (a worker's wake-up).
        self.on_arrival: Callable[[], None] | None = None
        self._reader = asyncio.create_task(self._read(), name="lease-stream reader")

    @classmethod
    async def open(
        cls,
        url: str,
        headers: dict[str, str],
        *,
        user_agent: str,
        timeout_s: float = 10,
        answer_timeout_s: float | None = None,
    ) -> LeaseStream:
        try:
            connection = await connect(
                url,
                additional_headers=headers,
                user_agent_header=user_agent,
                open_timeout=timeout_s,
                compression=None,  # tasks are small; deflate would only cost CPU
                max_size=2**24,
            )
        except InvalidStatus as exc:
            answer = exc.response
            raise _problem_error(url, answer.status_code, answer.body, answer.headers) from exc
        except (OSError, TimeoutError) as exc:
            raise ConnectionFailedError(url, exc) from exc
        return cls(url, connection, answer_timeout_s=answer_timeout_s)

    @property
    def closed(self) -> bool:
        return self.error is not None

    def _end(self, error: Exception) -> Exception:
        """Why the stream ended: the first reason given (a call that got no answer
        ends it before its reader sees the connection go)."""
        if self.error is None:
            self.error = error
        return self.error

    async def _read(self) -> None:
        try:
            async for raw in self.connection:
                self._take(from_json(raw))
            self._end(ConnectionFailedError(self.url, ConnectionError("the stream ended")))
        except ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code == QUEUE_GONE:
                problem = {"title": "Not Found", "detail": exc.rcvd.reason or "queue not found"}
                self._end(_problem_error(self.url, 404, problem))
            else:
                self._end(ConnectionFailedError(self.url, exc))
        except Exception as exc:
            self._end(ConnectionFailedError(self.url, exc))
        finally:
            error = self._end(ConnectionFailedError(self.url, ConnectionError("stream closed")))
            for answer in self._answers.values():
                if not answer.done():
                    answer.set_exception(error)
            self._answers.clear()
            self._arrived.set()
            if self.on_arrival is not None:
                self.on_arrival()

    def _take(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "tasks":
            tasks = _TASKS.validate_python(message["tasks"])
            self.delivered += len(tasks)
            self.visibility_timeout_s = int(message["visibility_timeout_s"])
            self._inbox.extend(tasks)
            self._arrived.set()
            if self.on_arrival is not None:
                self.on_arrival()
            return
        answer = self._answers.pop(message.get("ref") or 0, None)
        if answer is None or answer.done():
            return
        if op == "error":
            problem = message.get("problem") or {}
            answer.set_exception(_problem_error(self.url, int(problem.get("status", 500)), problem))
        else:
            answer.set_result(message)

    async def _send(self, message: dict[str, Any]) -> None:
        if self.error is not None:
            raise self.error
        try:
            await self.connection.send(to_json(message))
        except ConnectionClosed as exc:
            raise ConnectionFailedError(self.url, exc) from exc

    async def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send ``message`` with a fresh ``ref``; its answer (an error answer raises
        the ApiError of its problem). No answer within the answer timeout ends the
        stream: ConnectionFailedError, here and in every other pending call."""
        ref = next(self._refs)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._answers[ref] = answer
        bound_s = self.answer_timeout_s or self.visibility_timeout_s
        try:
            # Sending counts too: a peer that stopped reading blocks it once the
            # buffers are full.
            async with asyncio.timeout(bound_s):
                await self._send({**message, "ref": ref})
                return await answer
        except TimeoutError:
            silent = TimeoutError(f"no answer to {message.get('op')!r} within {bound_s:g}s")
            error = self._end(ConnectionFailedError(self.url, silent))
            # Dropped, not closed: a service that stopped answering would not answer a
            # closing handshake either. The reader then fails the other pending calls
            # and wakes the worker, which opens a new stream.
            self.connection.transport.abort()
            raise error from None
        finally:
            self._answers.pop(ref, None)

    async def _applied(self, message: dict[str, Any]) -> set[uuid.UUID]:
        answer = await self.ask(message)
        return {uuid.UUID(lease_id) for lease_id in answer["lease_ids"]}

    async def want(self, count: int) -> None:
        """Have room for ``count`` more tasks than received so far. Like a TCP window
        update, credit is only sent once at most half of it is still outstanding, so
        the service claims in batches rather than a task at a time."""
        outstanding = self.granted - self.delivered
        if outstanding * 2 <= count and outstanding < count:
            self.granted = self.delivered + count
            await self._send({"op": "credit", "total": self.granted})

    async def tasks(self) -> list[LeasedTask]:
        """The tasks received since the last call, waiting for some to arrive."""
        while not self._inbox:
            if self.error is not None:
                raise self.error
            self._arrived.clear()
            await self._arrived.wait()
        return self.take()

    def take(self) -> list[LeasedTask]:
        """The tasks received since the last call, without waiting (an ended stream
        raises once nothing it received is left)."""
        if not self._inbox and self.error is not None:
            raise self.error
        return self.drop()

    def drop(self) -> list[LeasedTask]:
        """The tasks received and not taken yet, taken now (an ended stream's too)."""
        tasks, self._inbox = self._inbox, []
        return tasks

    async def complete_many(self, items: Sequence[Outcome]) -> set[uuid.UUID]:
        """The leases completed (the others were gone and changed nothing); the message
        carries the current trace context."""
        body = [{"lease_id": item.lease_id, "result": item.result} for item in items]
        message: dict[str, Any] = {"op": "complete", "items": body}
        carrier: dict[str, str] = {}
        propagate.inject(carrier)  # the current trace, as a request's header carries it
        if "traceparent" in carrier:
            message["traceparent"] = carrier["traceparent"]
        return await self._applied(message)

    async def heartbeat_many(self, lease_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        """The leases extended."""
        return await self._applied({"op": "heartbeat", "lease_ids": list(lease_ids)})

    async def fail(self, lease_id: uuid.UUID, error: str, *, retryable: bool) -> bool:
        message = {"op": "fail", "lease_id": lease_id, "error": error, "retryable": retryable}
        return lease_id in await self._applied(message)

    async def release(self, lease_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        return await self._applied({"op": "release", "lease_ids": list(lease_ids)})

    async def drain(self) -> list[LeasedTask]:
        """Stop receiving tasks; the ones that arrived and were not taken yet (every
        task dealt to this stream has arrived when the service acknowledges)."""
        await self.ask({"op": "drain"})
        return self.drop()

    async def aclose(self) -> None:
        await self.connection.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
