"""Dependencies of the auth-service routes, as ``Annotated`` aliases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import crud
from auth_service.config import Settings
from auth_service.keys import KeyStore
from auth_service.kubernetes import ServiceAccount, ServiceAccountVerifier
from auth_service.passwords import Passwords
from auth_service.schemas import NAMESPACE_PATTERN, SERVICE_ACCOUNT_PATTERN
from auth_service.tokens import TokenIssuer
from taskplane_common import audit
from taskplane_common.deps import Audited, SessionDep, app_state, audited
from taskplane_common.errors import ProblemError
from taskplane_common.openapi import raises
from taskplane_common.principals import Principal, Role, current_principal, require_role

#: The scope that lets the operator record which ServiceAccount works which queue.
BINDINGS_SCOPE = "workload-bindings:write"


async def client_address(request: Request) -> str:
    """The peer address (uvicorn resolves X-Forwarded-For from trusted proxies only)."""
    return request.client.host if request.client else "unknown"


SettingsDep = Annotated[Settings, Depends(app_state("settings"))]
PasswordsDep = Annotated[Passwords, Depends(app_state("passwords"))]
KeyStoreDep = Annotated[KeyStore, Depends(app_state("key_store"))]


@raises(503)
async def token_issuer(request: Request) -> TokenIssuer:
    """The issuer, once the start-up is done (else 503, before any statement runs): until
    then nothing can be signed, the schema may still be missing, and the first account to
    register would become admin in place of the bootstrap admin."""
    request.app.state.startup.require_done()
    issuer: TokenIssuer = request.app.state.token_issuer
    return issuer


IssuerDep = Annotated[TokenIssuer, Depends(token_issuer)]
KubernetesVerifierDep = Annotated[
    ServiceAccountVerifier | None, Depends(app_state("kubernetes_verifier"))
]
ClientAddressDep = Annotated[str, Depends(client_address)]


@dataclass(frozen=True)
class AuthCall:
    """What the routes a caller without a token reaches (registration, the login, the
    token exchanges) work with: the session, the settings, the password hasher, the
    token issuer, and the client's address (the rate limits' bucket) and request (the
    audit entries')."""

    request: Request
    session: AsyncSession
    settings: Settings
    passwords: Passwords
    issuer: TokenIssuer
    address: str

    async def audit(self, action: str, target: str, actor: str | None, **entry: Any) -> None:
        """An audit entry in the call's session (``entry``: ``audit.record``'s fields)."""
        await audit.record(
            self.session, self.request, action=action, target=target, actor=actor, **entry
        )


async def auth_call(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
    issuer: IssuerDep,
    address: ClientAddressDep,
) -> AuthCall:
    return AuthCall(request, session, settings, passwords, issuer, address)


AuthCallDep = Annotated[AuthCall, Depends(auth_call)]


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
#: An admin's change, audited with the admin as its actor.
AdminChangeDep = Annotated[Audited, Depends(audited(current_admin))]


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
#: A change to the workload bindings, audited with its writer as the actor.
BindingsChangeDep = Annotated[Audited, Depends(audited(bindings_writer))]


async def bound_service_account(
    namespace: Annotated[str, Path(max_length=63, pattern=NAMESPACE_PATTERN)],
    service_account: Annotated[str, Path(max_length=253, pattern=SERVICE_ACCOUNT_PATTERN)],
) -> ServiceAccount:
    """The ServiceAccount a workload binding's path names."""
    return ServiceAccount(namespace, service_account)


ServiceAccountPathDep = Annotated[ServiceAccount, Depends(bound_service_account)]
