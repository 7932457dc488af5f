"""Who is calling: the principal every request runs as.

Tokens are verified locally against the auth service's JWKS (``token_verifier``, any
:class:`TokenVerifier`); a token that does not pass is refused with ``invalid_token()``,
the one 401 every verifier and the revocation list raise. When
``TASKPLANE_AUTH_DISABLED`` is set (development only; production refuses it) every
request runs as a fixed local admin, and start-up logs that loudly.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Protocol

from fastapi import Depends, Request

from taskplane_common.errors import ProblemError
from taskplane_common.openapi import raises
from taskplane_common.settings import ServiceSettings

log = logging.getLogger(__name__)


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


#: Roles allowed to create, change and delete business objects (viewers are read-only).
WRITER_ROLES = frozenset({Role.ADMIN.value, Role.MEMBER.value})

#: The scope of workers: lease, heartbeat, complete, fail and enqueue follow-ups.
QUEUE_WORK_SCOPE = "queues:work"

DEV_USER_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user (``user_id`` set) or a service token."""

    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)
    user_id: uuid.UUID | None = None
    #: From the token's ``email`` claim; lets services create profile rows lazily.
    email: str | None = None
    name: str | None = None
    #: A workload's token is bound to one queue (its ``taskplane_queue`` claim).
    queue: str | None = None

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def can_write(self) -> bool:
        """Admins and members change things; viewers and bare service tokens only read."""
        return bool(self.roles & WRITER_ROLES)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or self.is_admin

    def check_queue(self, queue: str) -> None:
        """403 when the caller is bound to a queue other than ``queue``."""
        if self.queue is not None and self.queue != queue:
            raise ProblemError(
                403,
                f"this token may only use queue {self.queue!r}, not {queue!r}",
                slug="queue-forbidden",
            )


DEV_PRINCIPAL = Principal(
    subject=str(DEV_USER_ID),
    roles=frozenset({Role.ADMIN}),
    scopes=frozenset({"queues:work", "queues:admin", "events:read"}),
    user_id=DEV_USER_ID,
    email="developer@taskplane.local",
    name="Local developer",
)


def warn_auth_disabled(service_name: str) -> None:
    log.warning(
        "AUTHENTICATION IS DISABLED for %s (TASKPLANE_AUTH_DISABLED=true): every request "
        "runs as a local admin. Never use this outside a developer machine.",
        service_name,
    )


@raises(401, 503)
async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the caller, from the bearer token (or the dev admin)."""
    settings: ServiceSettings = request.app.state.settings
    if settings.auth_disabled:
        return DEV_PRINCIPAL
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ProblemError(
            401,
            "a bearer token is required",
            slug="unauthenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if verifier is None:
        raise ProblemError(503, "token verification is not configured", slug="auth-unavailable")
    return await verifier.verify(token)


def invalid_token(detail: str = "the access token is invalid or expired") -> ProblemError:
    """401 with the RFC 6750 challenge; the detail never says which check failed."""
    return ProblemError(
        401,
        detail,
        slug="invalid-token",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal: ...


def require_scope(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency factory: 403 unless the caller holds ``scope`` (admins hold every scope)."""

    @raises(403)
    async def _check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        # A queue-bound token works its queue and nothing else, whatever else it claims.
        bound_elsewhere = principal.queue is not None and scope != QUEUE_WORK_SCOPE
        if bound_elsewhere or not principal.has_scope(scope):
            raise ProblemError(403, f"this call needs the scope {scope!r}", slug="forbidden")
        return principal

    return _check


def require_role(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency factory: 403 unless the caller holds one of ``roles``."""
    wanted = frozenset(roles)

    @raises(403)
    async def _check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.roles & wanted:
            raise ProblemError(
                403,
                f"this call needs one of the roles {', '.join(sorted(wanted))}",
                slug="forbidden",
            )
        return principal

    return _check


@raises(403)
async def require_writer(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    """FastAPI dependency for every write: viewers (and role-less tokens) get 403."""
    if not principal.can_write:
        raise ProblemError(403, "your role is read-only", slug="forbidden")
    return principal


def require_writer_or_scope(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency factory for writes that services may also make with ``scope``.

    A worker holding ``queues:work`` may enqueue follow-up tasks; a viewer may not.
    """

    @raises(403)
    async def _check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not (principal.can_write or principal.has_scope(scope)):
            raise ProblemError(
                403, f"this call needs a writer role or the scope {scope!r}", slug="forbidden"
            )
        return principal

    return _check
