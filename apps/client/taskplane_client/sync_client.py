"""The blocking client: the calls of :mod:`taskplane_client.api` sent with httpx.Client."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Self, TypeVar

import httpx
from tenacity import Retrying

from taskplane_client.api import ApiCalls
from taskplane_client.calls import Pages
from taskplane_client.transport import Call

T = TypeVar("T")


class TaskplaneClient(ApiCalls[httpx.BaseTransport]):
    """Blocking client; use it as a context manager or call :meth:`close`."""

    def _connect(self, transport: httpx.BaseTransport | None) -> None:
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
        retrying = Retrying(**self.retry.tenacity_kwargs(call))
        with self._reaching(call, retrying):
            return retrying(lambda: call.answer(self._http.request(**self._request(call))))

    def walk(self, pages: Pages[T]) -> Iterator[T]:
        """Every item of a listing, reading its pages as they are needed."""
        for call in pages.calls():
            yield from pages.read(self.send(call))
