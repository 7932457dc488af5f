"""The blocking client: the calls of :mod:`taskplane_client.api` sent with httpx.Client,
and the iterators that page through a listing."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from tenacity import Retrying

from taskplane_client.api import ApiCalls
from taskplane_client.base import DEFAULT_API_URL
from taskplane_client.calls import TaskFilter
from taskplane_client.models import Event, Task
from taskplane_client.transport import Call, request_kwargs

T = TypeVar("T")


class TaskplaneClient(ApiCalls):
    """Blocking client; use it as a context manager or call :meth:`close`."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(api_url, **options)
        self._http = httpx.Client(headers=self.headers, transport=transport)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send(self, call: Call[T]) -> T:
        """Send ``call`` under the retry policy and return its parsed answer."""
        attempts = 0
        try:
            for attempt in Retrying(**self.retry.tenacity_kwargs(call)):
                with attempt:
                    attempts += 1
                    response = self._http.request(
                        call.method,
                        self.endpoints.url(call),
                        **request_kwargs(call, self.auth, self.timeout),
                    )
                    return call.answer(response)
        except httpx.TransportError as exc:
            raise self._failed(call, exc, attempts) from exc
        raise AssertionError("unreachable")

    def iter_tasks(
        self, filters: TaskFilter | None = None, *, page_size: int = 100
    ) -> Iterator[Task]:
        """Every matching task, page after page (keyset cursors: stable under inserts)."""
        cursor: str | None = None
        while True:
            page = self.list_tasks(filters, limit=page_size, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def iter_events(
        self,
        after: str | None = None,
        *,
        follow: bool = False,
        wait_s: float = 20,
        limit: int = 100,
    ) -> Iterator[Event]:
        """Events in order from ``after``; ``follow`` keeps long-polling for new ones."""
        cursor = after
        while True:
            page = self.events(cursor, wait_s=wait_s if follow else 0, limit=limit)
            yield from page.items
            cursor = page.next_cursor
            if not page.items and not follow:
                return
