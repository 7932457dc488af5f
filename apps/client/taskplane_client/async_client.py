"""The asyncio client: the calls of :mod:`taskplane_client.api` sent with
httpx.AsyncClient, a lease kept alive, and the streaming lease opened with the client's
credentials."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Self, TypeVar

import httpx
from tenacity import AsyncRetrying

from taskplane_client.api import ApiCalls
from taskplane_client.base import DEFAULT_TIMEOUT_S
from taskplane_client.calls import Pages
from taskplane_client.errors import LeaseLostError
from taskplane_client.models import LeasedTask
from taskplane_client.stream import LeaseStream, stream_url
from taskplane_client.transport import Call

log = logging.getLogger("taskplane_client")
T = TypeVar("T")


class AsyncTaskplaneClient(ApiCalls[httpx.AsyncBaseTransport]):
    """Asyncio client; the worker and the operator run on it."""

    def _connect(self, transport: httpx.AsyncBaseTransport | None) -> None:
        self._http = httpx.AsyncClient(headers=self.headers, transport=transport)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        """Send ``call`` under the retry policy; cancelling it aborts the request at once
        (its connection is closed, so the server ends a long-poll)."""

        async def attempt() -> T:
            return call.answer(await self._http.request(**self._request(call)))

        retrying = AsyncRetrying(**self.retry.tenacity_kwargs(call))
        with self._reaching(call, retrying):
            return await retrying(attempt)

    async def walk(self, pages: Pages[T]) -> AsyncIterator[T]:
        """Every item of a listing, reading its pages as they are needed."""
        for call in pages.calls():
            for item in pages.read(await self.send(call)):
                yield item

    async def keep_leased(
        self, task: LeasedTask, worker_id: str | None = None, *, on_lost: Callable[[], object]
    ) -> None:
        """Heartbeat every third of the visibility timeout until cancelled; when the
        server says the lease is gone, call ``on_lost`` and return."""
        interval = max(0.2, task.visibility_timeout_s / 3)
        beats = self.with_retry(dataclasses.replace(self.retry, deadline_s=interval))
        while True:
            await asyncio.sleep(interval)
            try:
                await beats.heartbeat(task, worker_id)
            except LeaseLostError:
                log.warning("lease of task %s lost; abandoning it", task.id)
                on_lost()
                return
            except Exception as exc:
                log.warning("heartbeat for task %s failed: %s", task.id, exc)

    async def lease_stream(
        self, queue: str, worker_id: str, *, answer_timeout_s: float | None = None
    ) -> LeaseStream:
        """Open the streaming lease of ``queue`` (:mod:`taskplane_client.stream`; a call
        unanswered for ``answer_timeout_s``, by default the visibility timeout, ends it)."""
        url = stream_url(self.endpoints.api_url, queue, worker_id)
        return await LeaseStream.open(
            url,
            await self._authorization(url),
            user_agent=self.headers["User-Agent"],
            timeout_s=self.timeout.connect or DEFAULT_TIMEOUT_S,
            answer_timeout_s=answer_timeout_s,
        )

    async def _authorization(self, url: str) -> dict[str, str]:
        """The headers this client's auth puts on a request to ``url`` (a service token
        exchanged first when it needs to be), for a connection httpx does not make."""
        request = self._http.build_request("GET", url.replace("ws", "http", 1))
        if self.auth is None:
            return {}
        flow = self.auth.async_auth_flow(request)
        outgoing = await flow.__anext__()
        while outgoing is not request:
            response = await self._http.send(outgoing)
            await response.aread()
            outgoing = await flow.asend(response)
        await flow.aclose()
        header = request.headers.get("Authorization")
        return {"Authorization": header} if header else {}
