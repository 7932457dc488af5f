"""One worker's lease stream: credit up, tasks down, lease actions both ways.

The worker sends JSON messages (text or binary frames), each with an ``op``:

* ``{"op": "credit", "total": n}``: it has asked for ``n`` tasks since it connected
  (cumulative, so a message crossing a delivery in flight never over-grants; a lower
  total takes back credit not yet used).
* ``complete`` (``items`` of ``{lease_id, result}``, and the ``traceparent`` of the
  trace it continues), ``heartbeat`` (``lease_ids``),
  ``fail`` (``lease_id``, ``error``, ``retryable``), ``release`` (``lease_ids``) and
  ``drain`` (stop dealing to me), each with a ``ref`` its answer repeats:
  ``{"op": "ok", "ref": k, "lease_ids": [...]}``, the leases the action applied to.

The service sends ``{"op": "tasks", "tasks": [...], "visibility_timeout_s": n}`` (the
tasks as ``LeasedTask``) and answers. A message it cannot read gets
``{"op": "error", "ref": k, "problem": {...}}`` (an RFC 9457 problem: 422, or 503 when
the database cannot be reached) and changes nothing; the stream stays open. Lease
actions are judged as the HTTP routes judge them, for the stream's worker and queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic_core import to_json

import taskplane_client.models as models
from task_service.config import Settings
from task_service.queue import wire
from task_service.queue.dispatch import Dispatcher, Subscriber
from task_service.queue.errors import QueueError, QueueNotFound
from task_service.queue.leases import Lease, complete_many, fail, heartbeat_many, release
from task_service.queue.pool import QueuePool
from task_service.queue.records import Leased, LeaseOutcome
from task_service.queue.schemas import CompleteItem
from task_service.queue.telemetry import settling
from taskplane_common.errors import problem_type

log = logging.getLogger(__name__)

#: Lease ids or items per message at most (the HTTP batch routes' limit).
BATCH_MAX = 1000
LeaseIds = Annotated[list[models.JsonUUID], Field(min_length=1, max_length=BATCH_MAX)]


class _Message(BaseModel):
    model_config = {"extra": "forbid"}


class Credit(_Message):
    op: Literal["credit"]
    total: int = Field(ge=0)


class _Asked(_Message):
    ref: int


class Complete(_Asked):
    op: Literal["complete"]
    items: list[CompleteItem] = Field(min_length=1, max_length=BATCH_MAX)
    #: The trace the completion continues (W3C ``traceparent``), like a request's header.
    traceparent: Annotated[str, Field(max_length=128, pattern=models.NO_NUL)] | None = None


class Heartbeat(_Asked):
    op: Literal["heartbeat"]
    lease_ids: LeaseIds


class Fail(_Asked):
    op: Literal["fail"]
    lease_id: models.JsonUUID
    error: Annotated[str, Field(max_length=20_000, pattern=models.NO_NUL)] = ""
    retryable: bool = True


class Release(_Asked):
    op: Literal["release"]
    lease_ids: LeaseIds


class Drain(_Asked):
    op: Literal["drain"]


Message = Annotated[
    Credit | Complete | Heartbeat | Fail | Release | Drain, Field(discriminator="op")
]
_MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)


def problem(status: int, slug: str, detail: str, **extra: Any) -> dict[str, Any]:
    """An RFC 9457 problem object, as the HTTP routes write them."""
    title = {422: "Unprocessable Content", 503: "Service Unavailable"}.get(status, "Not Found")
    return {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }


def _ref_of(raw: bytes | str) -> int | None:
    """The ``ref`` of a message that did not validate, to answer it (when readable)."""
    try:
        ref = TypeAdapter(dict[str, Any]).validate_json(raw).get("ref")
    except ValidationError:
        return None
    return ref if isinstance(ref, int) else None


@dataclass(eq=False)
class StreamSession:
    """A connected worker: reads its messages, answers them, receives its deals."""

    websocket: WebSocket
    queue: str
    worker_id: str
    dispatcher: Dispatcher
    pool: QueuePool
    settings: Settings
    #: Raises once the stream's credentials no longer hold (checked every
    #: ``settings.stream_reauthorize_s``; the stream then ends with close code 4401).
    authorized: Callable[[], Awaitable[None]] | None = None
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Lease actions under way (each message's in a task of its own).
    actions: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.subscriber = Subscriber(self.worker_id, self.deliver, self.gone)

    async def send(self, body: dict[str, Any]) -> None:
        async with self.sending:
            await self.websocket.send_bytes(to_json(body))

    async def deliver(self, tasks: list[Leased], granted: Lease) -> bool:
        out = wire.lease_out(self.queue, tasks, granted.visibility_timeout_s, granted.max_attempts)
        try:
            await self.send({"op": "tasks", **out})
        except (WebSocketDisconnect, RuntimeError, OSError):
            return False
        return True

    async def gone(self, exc: QueueNotFound) -> None:
        """The queue was deleted: say so, and end the stream (close code 4404)."""
        try:
            await self.send({"op": "error", "problem": problem(404, "queue-not-found", str(exc))})
            await self.websocket.close(4404, "queue not found")
        except (WebSocketDisconnect, RuntimeError, OSError):
            return

    async def _reauthorize(self) -> None:
        """Check the credentials again every ``stream_reauthorize_s``; end the stream
        (close code 4401) when they no longer hold."""
        assert self.authorized is not None
        while True:
            await asyncio.sleep(self.settings.stream_reauthorize_s)
            try:
                await self.authorized()
            except Exception as exc:
                log.info("lease stream of %s: credentials no longer hold (%s)", self.queue, exc)
                with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                    await self.websocket.close(4401, "credentials expired or revoked")
                return

    async def run(self) -> None:
        self.dispatcher.subscribe(self.subscriber)
        checking = asyncio.create_task(self._reauthorize()) if self.authorized else None
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                self._handle(message.get("bytes") or message.get("text") or b"")
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            await self.dispatcher.unsubscribe(self.subscriber)
            if checking is not None:
                checking.cancel()
            # Actions under way still run to their end (a completion is recorded even
            # when its answer can no longer be sent).
            if self.actions:
                await asyncio.gather(*self.actions, return_exceptions=True)

    def _handle(self, raw: bytes | str) -> None:
        """Credit at once; a lease action in a task of its own, so a slow statement
        never holds back the credit (and so the tasks) behind it."""
        try:
            parsed = _MESSAGE.validate_json(raw)
        except ValidationError as exc:
            self._spawn(self._refuse(raw, exc))
            return
        if isinstance(parsed, Credit):
            self.dispatcher.grant(self.subscriber, parsed.total)
        else:
            self._spawn(self._answer(parsed))

    def _spawn(self, action: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(action)
        self.actions.add(task)
        task.add_done_callback(self.actions.discard)

    async def _reply(self, body: dict[str, Any]) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.send(body)

    async def _refuse(self, raw: bytes | str, exc: ValidationError) -> None:
        errors = [
            {"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        body = problem(422, "validation-error", detail, errors=errors)
        await self._reply({"op": "error", "ref": _ref_of(raw), "problem": body})

    async def _answer(self, message: Complete | Heartbeat | Fail | Release | Drain) -> None:
        try:
            lease_ids = await self._act(message)
        except Exception as exc:  # the database, most likely: the worker retries
            log.warning("lease stream of %s: %s failed: %s", self.queue, message.op, exc)
            body = problem(503, "database-unavailable", f"{message.op} failed; retry")
            await self._reply({"op": "error", "ref": message.ref, "problem": body})
            return
        await self._reply({"op": "ok", "ref": message.ref, "lease_ids": lease_ids})

    async def _act(self, message: Complete | Heartbeat | Fail | Release | Drain) -> list[Any]:
        """Run one lease action; the leases it applied to."""
        if isinstance(message, Drain):
            await self.dispatcher.unsubscribe(self.subscriber)
            return []
        queue, worker = self.queue, self.worker_id
        async with self.pool.connection() as connection:
            if isinstance(message, Complete):
                items = [(item.lease_id, item.result) for item in message.items]
                with settling("complete", queue, message.traceparent):
                    done = await complete_many(connection, items, worker, queue_scope=queue)
                wire.lease_results(done.values(), "completed")
                return list(done)
            if isinstance(message, Heartbeat):
                grace = self.settings.timeout_grace_s
                extended = await heartbeat_many(
                    connection, message.lease_ids, worker, grace, queue_scope=queue
                )
                return list(extended)
            if isinstance(message, Fail):
                try:
                    failed = await fail(
                        connection,
                        message.lease_id,
                        worker,
                        message.error,
                        retryable=message.retryable,
                        queue_scope=queue,
                    )
                except QueueError:  # the lease is gone, or another queue's
                    return []
                wire.lease_results([failed], "failed")
                return [message.lease_id]
            released: list[LeaseOutcome] = []
            lease_ids = []
            for lease_id in message.lease_ids:
                with contextlib.suppress(QueueError):
                    released.append(await release(connection, lease_id, worker, queue_scope=queue))
                    lease_ids.append(lease_id)
            wire.lease_results(released, "released")
            return lease_ids
