"""Dependencies of the auth-service routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import crud
from auth_service.config import Settings
from auth_service.keys import KeyStore
from auth_service.kubernetes import ServiceAccountVerifier
from auth_service.passwords import Passwords
from auth_service.tokens import TokenIssuer
from taskplane_common.db import request_session
from taskplane_common.deps import app_state
from taskplane_common.errors import ProblemError
from taskplane_common.principals import Principal, Role, current_principal, require_role

#: The scope that lets the operator record which ServiceAccount works which queue.
BINDINGS_SCOPE = "workload-bindings:write"


async def client_address(request: Request) -> str:
    """The peer address (uvicorn resolves X-Forwarded-For from trusted proxies only)."""
    return request.client.host if request.client else "unknown"


SettingsDep = Annotated[Settings, Depends(app_state("settings"))]
SessionDep = Annotated[AsyncSession, Depends(request_session)]
PasswordsDep = Annotated[Passwords, Depends(app_state("passwords"))]
IssuerDep = Annotated[TokenIssuer, Depends(app_state("token_issuer"))]
KeyStoreDep = Annotated[KeyStore, Depends(app_state("key_store"))]
KubernetesVerifierDep = Annotated[
    ServiceAccountVerifier | None, Depends(app_state("kubernetes_verifier"))
]
ClientAddressDep = Annotated[str, Depends(client_address)]


async def current_admin(
    principal: Annotated[Principal, Depends(require_role(Role.ADMIN))],
    session: SessionDep,
) -> Principal:
    """The token says admin; the database must agree (a demoted admin's token stops here)."""
    user = await crud.user_by_id(session, principal.user_id) if principal.user_id else None
    if user is None or not user.is_active or user.role != Role.ADMIN:
        raise ProblemError(403, "this call needs an active admin", slug="forbidden")
    return principal


AdminDep = Annotated[Principal, Depends(current_admin)]


async def bindings_writer(
    principal: Annotated[Principal, Depends(current_principal)], session: SessionDep
) -> Principal:
    """Active admins, and tokens granted ``workload-bindings:write`` (the operator)."""
    if principal.is_admin:
        return await current_admin(principal, session)
    if BINDINGS_SCOPE not in principal.scopes or principal.queue is not None:
        raise ProblemError(403, f"this call needs the scope {BINDINGS_SCOPE!r}", slug="forbidden")
    return principal


BindingsWriterDep = Annotated[Principal, Depends(bindings_writer)]
