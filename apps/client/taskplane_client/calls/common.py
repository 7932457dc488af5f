"""What the call modules share: the API's base paths, the long-poll read margin, and
:class:`Pages`, a listing read page after page."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Generic, Protocol, TypeVar
from urllib.parse import quote

from taskplane_client.transport import Call

__all__ = [
    "LONG_POLL_MARGIN_S",
    "Pages",
]

#: Extra read time for a long-poll beyond the wait it asks the server for.
LONG_POLL_MARGIN_S = 15.0
TASKS = "/api/v1/tasks"
QUEUES = "/api/v1/queues"
LEASES = "/api/v1/leases"

ItemT = TypeVar("ItemT")
ItemT_co = TypeVar("ItemT_co", covariant=True)


def _queue(name: str) -> str:
    return f"{QUEUES}/{quote(name, safe='')}"


class Page(Protocol[ItemT_co]):
    """One page of a keyset-paged listing (``TaskPage``, ``EventPage``)."""

    @property
    def items(self) -> Sequence[ItemT_co]: ...

    @property
    def next_cursor(self) -> str | None: ...


@dataclass
class Pages(Generic[ItemT]):
    """The calls that read a listing page after page, each from the cursor the page
    before returned; a client sends :meth:`calls` and hands each answer to :meth:`read`,
    so the blocking and the asyncio iterator share the walk and differ only in sending."""

    page: Callable[[str | None], Call[Page[ItemT]]]
    _: KW_ONLY
    #: Whether a page is the listing's last (no cursor, or an empty page when not following).
    last: Callable[[Page[ItemT]], bool]
    cursor: str | None = None
    done: bool = field(default=False, init=False)

    def calls(self) -> Iterator[Call[Page[ItemT]]]:
        """The call of the next page, until :meth:`read` has seen the last one."""
        while not self.done:
            yield self.page(self.cursor)

    def read(self, page: Page[ItemT]) -> Sequence[ItemT]:
        """The items of ``page``, remembering where the next page starts."""
        self.done = self.last(page)
        self.cursor = page.next_cursor
        return page.items
