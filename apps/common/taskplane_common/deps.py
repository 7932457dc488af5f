"""Route dependencies every service builds the same way.

No ``from __future__ import annotations`` here: FastAPI reads a dependency's parameters
from its annotations, and :func:`audited`'s closure names the ``actor`` it was given,
which a string annotation could not be resolved to.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from taskplane_common import audit
from taskplane_common.db import request_session
from taskplane_common.paging import PageLimit, page_size
from taskplane_common.principals import Principal

#: A session per request, in a transaction the route commits.
SessionDep = Annotated[AsyncSession, Depends(request_session)]


def app_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency answering ``request.app.state.<name>``, which the app set when it
    started; the ``Annotated`` alias that depends on it states its type. Async, so
    FastAPI calls it in the event loop rather than in its thread pool."""

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    dependency.__name__ = dependency.__qualname__ = f"app_state_{name}"
    return dependency


@dataclass(frozen=True)
class Audited:
    """What a route that changes something and audits it works with: the transaction,
    who acts, and the request (the entry's client address)."""

    session: AsyncSession
    actor: Principal
    request: Request

    async def record(self, action: str, target: str, **details: Any) -> None:
        """The change's audit entry, in its transaction: it commits (or rolls back) with
        the change."""
        await audit.record(
            self.session,
            self.request,
            action=action,
            target=target,
            actor=self.actor,
            details=details,
        )

    async def commit(self, action: str, target: str, **details: Any) -> None:
        """Record the change's audit entry and commit both."""
        await self.record(action, target, **details)
        await self.session.commit()


def audited(
    actor: Callable[..., Awaitable[Principal]],
) -> Callable[..., Awaitable[Audited]]:
    """A dependency for the routes ``actor`` (a principal dependency such as
    ``require_scope(...)``) admits: their :class:`Audited` call."""

    async def dependency(
        request: Request, session: SessionDep, principal: Annotated[Principal, Depends(actor)]
    ) -> Audited:
        return Audited(session, principal, request)

    dependency.__name__ = dependency.__qualname__ = f"audited_{actor.__name__}"
    return dependency


@dataclass(frozen=True)
class PageRequest:
    """The page a list route is asked for: its size (``limit``, or the service's default,
    capped by the service's maximum) and the cursor it starts after."""

    size: int
    cursor: str | None


def page_request(cursor_query: Any) -> Callable[..., Awaitable[PageRequest]]:
    """The dependency of a list route's ``limit`` and ``cursor`` query parameters;
    ``cursor_query``, a ``Query(...)``, says what the list's own cursors look like."""

    async def dependency(
        request: Request,
        limit: PageLimit = None,
        cursor: Annotated[str | None, cursor_query] = None,
    ) -> PageRequest:
        return PageRequest(page_size(request.app.state.settings, limit), cursor)

    return dependency
