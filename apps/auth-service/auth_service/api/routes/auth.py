"""Registration, login, refresh rotation, logout, and the exchanges of service tokens
and Kubernetes ServiceAccount tokens for access tokens."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import crud, ratelimit
from auth_service.api.deps import (
    ClientAddressDep,
    IssuerDep,
    KubernetesVerifierDep,
    PasswordsDep,
    SessionDep,
    SettingsDep,
)
from auth_service.config import Settings
from auth_service.kubernetes import ServiceAccount
from auth_service.models import User
from auth_service.schemas import (
    AccessToken,
    KubernetesTokenExchange,
    RefreshRequest,
    RegisterRequest,
    ServiceTokenExchange,
    TokenPair,
    UserOut,
)
from auth_service.tokens import TokenIssuer, service_subject
from taskplane_common import audit
from taskplane_common.errors import ProblemError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Bad credentials or token", **_PROBLEM}
}
_RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many attempts", **_PROBLEM}
}
WORKER_SCOPES = frozenset({"queues:work"})


def _bad_credentials() -> ProblemError:
    """One answer for unknown email, wrong password and deactivated account."""
    return ProblemError(
        401,
        "incorrect email or password",
        slug="invalid-credentials",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _bad_refresh_token() -> ProblemError:
    return ProblemError(
        401, "the refresh token is invalid, expired or revoked", slug="invalid-refresh-token"
    )


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


async def _user_access_token(
    session: AsyncSession, issuer: TokenIssuer, user: User, refusal: ProblemError
) -> str:
    """The user's epoch first, then their role and status as committed now: a role change
    or deactivation committing in between leaves the token with the old epoch, which every
    verifier refuses, never the new epoch on the old role."""
    epoch = await crud.subject_epoch(session, str(user.id))
    await session.refresh(user, ["role", "is_active", "email", "full_name"])
    if not user.is_active:
        raise refusal
    return await issuer.for_user(user, epoch)


async def _audit_self(
    session: AsyncSession,
    request: Request,
    action: str,
    user: User,
    details: dict[str, Any] | None = None,
) -> None:
    """An entry for something a user did to their own account (register, log in)."""
    await audit.record(
        session,
        request,
        action=action,
        target=f"user:{user.id}",
        actor=str(user.id),
        actor_name=user.email,
        details=details,
    )


@router.post(
    "/register",
    status_code=201,
    response_model=UserOut,
    summary="Create an account",
    responses={
        403: {"description": "Registration is closed", **_PROBLEM},
        409: {"description": "The email is already registered", **_PROBLEM},
        422: {"description": "Invalid body or weak password", **_PROBLEM},
    },
)
async def register(
    body: RegisterRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
) -> UserOut:
    if not settings.registration_enabled:
        raise ProblemError(403, "self-registration is disabled", slug="registration-closed")
    passwords.check_policy(body.password, body.email)
    duplicate = ProblemError(409, "this email is already registered", slug="email-taken")
    if await crud.user_by_email(session, body.email) is not None:
        raise duplicate
    password_hash = await passwords.hash(body.password)
    admin_emails = frozenset(
        {crud.normalize_email(settings.bootstrap_admin_email)}
        if settings.bootstrap_admin_email
        else set()
    )
    try:
        user = await crud.create_user(
            session,
            email=body.email,
            password_hash=password_hash,
            full_name=body.full_name,
            admin_emails=admin_emails,
            first_user_is_admin=settings.first_user_is_admin,
        )
        await _audit_self(session, request, "user.register", user, {"role": user.role})
        await session.commit()
    except IntegrityError as exc:
        raise duplicate from exc
    log.info("user registered", extra={"user_id": str(user.id), "role": user.role})
    return user_out(user)


@router.post(
    "/token",
    response_model=TokenPair,
    summary="OAuth2 password login (form: username=email, password)",
    responses={**_UNAUTHORIZED, 429: {"description": "Too many attempts", **_PROBLEM}},
)
async def token(
    request: Request,
    username: Annotated[str, Form(min_length=1, max_length=320, description="The email")],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
    session: SessionDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
    issuer: IssuerDep,
    address: ClientAddressDep,
    response: Response,
    grant_type: Annotated[Literal["password"], Form()] = "password",
    scope: Annotated[str, Form(max_length=1000)] = "",
) -> TokenPair:
    window = settings.login_window_s
    account = ratelimit.account_bucket(username)
    by_address = await ratelimit.hit(session, ratelimit.address_bucket(address), window)
    failures = await ratelimit.peek(session, account, window)
    await session.commit()
    if by_address.count > settings.login_max_attempts_per_address:
        log.warning("login rate limit hit for a client address")
        raise ratelimit.too_many(by_address)
    if failures.count >= settings.login_max_failures_per_account:
        log.warning("login rate limit hit for an account", extra={"account": account})
        raise ratelimit.too_many(failures)

    user = await crud.user_by_email(session, username)
    valid = await passwords.verify(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        await ratelimit.hit(session, account, window)
        await audit.record(
            session,
            request,
            action="auth.login",
            target=f"account:{crud.normalize_email(username)}",
            actor=None,
            outcome="failure",
        )
        await session.commit()
        log.info("login failed", extra={"account": account})
        raise _bad_credentials()

    access = await _user_access_token(session, issuer, user, _bad_credentials())
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash(password)
    refresh = await crud.issue_refresh_token(
        session, user, timedelta(seconds=settings.refresh_token_ttl_s)
    )
    await _audit_self(session, request, "auth.login", user)
    await session.commit()
    log.info("login succeeded", extra={"user_id": str(user.id)})
    response.headers.update(_NO_STORE)
    return TokenPair(
        access_token=access, refresh_token=refresh, expires_in=settings.access_token_ttl_s
    )


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Rotate a refresh token (reuse revokes the whole session)",
    responses=_UNAUTHORIZED,
)
async def refresh(
    body: RefreshRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    issuer: IssuerDep,
    response: Response,
) -> TokenPair:
    stored = await crud.refresh_token_by_secret(session, body.refresh_token)
    if stored is None:
        raise _bad_refresh_token()
    now = datetime.now(UTC)
    if stored.used_at is not None or stored.revoked_at is not None:
        # A rotated token came back: either the client or a thief holds a copy. End
        # the session for both; the real user logs in again.
        await crud.revoke_family(session, stored.family_id)
        await audit.record(
            session,
            request,
            action="auth.session.revoke",
            target=f"user:{stored.user_id}",
            actor=None,
            outcome="failure",
            details={"reason": "refresh token reuse", "family_id": str(stored.family_id)},
        )
        await session.commit()
        log.warning(
            "refresh token reuse detected; session revoked",
            extra={"user_id": str(stored.user_id), "family_id": str(stored.family_id)},
        )
        raise _bad_refresh_token()
    if stored.expires_at <= now:
        raise _bad_refresh_token()
    user = await crud.user_by_id(session, stored.user_id)
    if user is None or not user.is_active:
        await crud.revoke_family(session, stored.family_id)
        await session.commit()
        raise _bad_refresh_token()
    access = await _user_access_token(session, issuer, user, _bad_refresh_token())
    stored.used_at = now
    secret = await crud.issue_refresh_token(
        session, user, timedelta(seconds=settings.refresh_token_ttl_s), stored.family_id
    )
    await session.commit()
    response.headers.update(_NO_STORE)
    return TokenPair(
        access_token=access, refresh_token=secret, expires_in=settings.access_token_ttl_s
    )


@router.post(
    "/logout",
    status_code=204,
    summary="End the session of a refresh token (always 204: no token oracle)",
)
async def logout(body: RefreshRequest, request: Request, session: SessionDep) -> Response:
    stored = await crud.refresh_token_by_secret(session, body.refresh_token)
    if stored is not None:
        await crud.revoke_family(session, stored.family_id)
        await audit.record(
            session,
            request,
            action="auth.logout",
            target=f"user:{stored.user_id}",
            actor=str(stored.user_id),
            details={"family_id": str(stored.family_id)},
        )
        await session.commit()
    return Response(status_code=204)


@router.post(
    "/service-token",
    response_model=AccessToken,
    summary="Exchange a service token (workers, operator) for a short-lived access token",
    responses={**_UNAUTHORIZED, **_RATE_LIMITED},
)
async def exchange_service_token(
    body: ServiceTokenExchange,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    issuer: IssuerDep,
    address: ClientAddressDep,
    response: Response,
) -> AccessToken:
    await _limit_exchanges(session, settings, address)
    stored = await crud.usable_service_token(session, body.token)
    if stored is None:
        await audit.record(
            session,
            request,
            action="auth.token.exchange",
            target="service-token:unknown",
            actor=None,
            outcome="failure",
        )
        await session.commit()
        raise ProblemError(
            401, "the service token is invalid, expired or revoked", slug="invalid-service-token"
        )
    subject = service_subject(stored.id)
    # The epoch first, then whether the token is still unrevoked: a revocation
    # committing in between leaves this access token with the old epoch (refused).
    epoch = await crud.subject_epoch(session, subject)
    await session.refresh(stored, ["revoked_at"])
    if stored.revoked_at is not None:
        raise ProblemError(
            401, "the service token is invalid, expired or revoked", slug="invalid-service-token"
        )
    access = await issuer.for_service(stored, epoch)
    await audit.record(
        session,
        request,
        action="auth.token.exchange",
        target=f"service-token:{stored.id}",
        actor=subject,
        actor_name=stored.name,
    )
    await session.commit()
    response.headers.update(_NO_STORE)
    return AccessToken(access_token=access, expires_in=settings.access_token_ttl_s)


async def _limit_exchanges(session: AsyncSession, settings: Settings, address: str) -> None:
    """Token exchanges share the login budget of the client address."""
    by_address = await ratelimit.hit(
        session, ratelimit.address_bucket(address), settings.login_window_s
    )
    await session.commit()
    if by_address.count > settings.login_max_attempts_per_address:
        raise ratelimit.too_many(by_address)


@router.post(
    "/kubernetes-token",
    response_model=AccessToken,
    summary="Exchange a projected Kubernetes ServiceAccount token for an access token",
    responses={
        **_UNAUTHORIZED,
        **_RATE_LIMITED,
        404: {"description": "Kubernetes authentication is not enabled", **_PROBLEM},
        503: {"description": "The issuer or API server cannot be reached", **_PROBLEM},
    },
)
async def exchange_kubernetes_token(
    body: KubernetesTokenExchange,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    issuer: IssuerDep,
    verifier: KubernetesVerifierDep,
    address: ClientAddressDep,
    response: Response,
) -> AccessToken:
    """The platform's own ServiceAccounts (operator, notification-service) get their
    configured scopes; any other gets ``queues:work`` for the one queue its workload
    binding names, or nothing."""
    if verifier is None:
        raise ProblemError(
            404,
            "Kubernetes ServiceAccount authentication is not enabled "
            "(TASKPLANE_AUTH_KUBERNETES_ISSUER is unset)",
            slug="kubernetes-auth-disabled",
        )
    await _limit_exchanges(session, settings, address)
    try:
        account = await verifier.verify(body.token)
    except ProblemError as refusal:
        if refusal.status == 401:
            await _exchange_refused(session, request, "unverified", "invalid token")
        raise
    platform_scopes = settings.kubernetes_platform_scopes.get((account.namespace, account.name))
    scopes, queue = platform_scopes, None
    if scopes is None:
        scopes, queue = WORKER_SCOPES, await _bound_queue(session, request, account)
    epoch = await crud.subject_epoch(session, account.username)
    access = await issuer.for_service_account(account, scopes, queue, epoch)
    await audit.record(
        session,
        request,
        action="auth.kubernetes.exchange",
        target=f"serviceaccount:{account.namespace}/{account.name}",
        actor=account.username,
        details={"uid": account.uid},
    )
    await session.commit()
    response.headers.update(_NO_STORE)
    return AccessToken(access_token=access, expires_in=settings.access_token_ttl_s)


async def _exchange_refused(
    session: AsyncSession, request: Request, target: str, reason: str, actor: str | None = None
) -> None:
    """Audit a refused Kubernetes exchange (committed: the refusal raises after it)."""
    await audit.record(
        session,
        request,
        action="auth.kubernetes.exchange",
        target=f"serviceaccount:{target}",
        actor=actor,
        outcome="failure",
        details={"reason": reason},
    )
    await session.commit()


async def _bound_queue(session: AsyncSession, request: Request, account: ServiceAccount) -> str:
    """The queue a worker's binding names; 401 without one, or when the binding recorded
    another ServiceAccount uid (the ServiceAccount was deleted and recreated).

    A binding made without a uid records the uid of the first token exchanged for it.
    """
    binding = await crud.workload_binding(session, account.namespace, account.name, for_update=True)
    target = f"{account.namespace}/{account.name}"
    if binding is None:
        log.info("ServiceAccount without a workload binding", extra={"sa": account.username})
        await _exchange_refused(session, request, target, "not bound", account.username)
        raise ProblemError(
            401, "this ServiceAccount is not bound to any queue", slug="invalid-kubernetes-token"
        )
    if binding.service_account_uid is None and account.uid is not None:
        binding.service_account_uid = account.uid
    elif binding.service_account_uid != account.uid:
        log.warning(
            "ServiceAccount uid differs from its binding's: recreated since it was bound",
            extra={"sa": account.username},
        )
        await _exchange_refused(session, request, target, "uid differs", account.username)
        raise ProblemError(
            401,
            "this ServiceAccount was recreated since it was bound; bind it again",
            slug="invalid-kubernetes-token",
        )
    return binding.queue
