"""Registration, login, refresh rotation and logout: a user's sessions.

Login and refresh issue their refresh token and read the account and its revocation
epoch in one statement (``auth_service.sessions``); a refresh that is not plainly valid
(unknown, reused, revoked, expired, or of an inactive account) takes the session path
below, which decides which and acts on it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import crud, ratelimit, sessions
from auth_service.api.deps import AuthCall, AuthCallDep, IssuerDep, SettingsDep
from auth_service.api.routes.responses import RATE_LIMITED, UNAUTHORIZED, token_response
from auth_service.models import RefreshToken, User
from auth_service.schemas import RefreshRequest, RegisterRequest, TokenPair, UserOut
from taskplane_common import audit
from taskplane_common.db import DatabaseDep
from taskplane_common.deps import SessionDep
from taskplane_common.errors import ProblemError
from taskplane_common.openapi import problems

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


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


async def _audit_self(
    call: AuthCall, action: str, user: User, details: dict[str, Any] | None = None
) -> None:
    """An entry for something a user did to their own account (register, log in)."""
    target = f"user:{user.id}"
    await call.audit(action, target, str(user.id), actor_name=user.email, details=details)


@router.post(
    "/register",
    status_code=201,
    response_model=UserOut,
    summary="Create an account",
    responses=problems(
        403,
        409,
        422,
        s403="Registration is closed",
        s409="The email is already registered",
        s422="Invalid body or weak password",
    ),
)
async def register(body: RegisterRequest, call: AuthCallDep) -> UserOut:
    session, settings, passwords = call.session, call.settings, call.passwords
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
        await _audit_self(call, "user.register", user, {"role": user.role})
        await session.commit()
    except IntegrityError as exc:
        raise duplicate from exc
    log.info("user registered", extra={"user_id": str(user.id), "role": user.role})
    return user_out(user)


@router.post(
    "/token",
    response_model=TokenPair,
    summary="OAuth2 password login (form: username=email, password)",
    responses={**UNAUTHORIZED, **RATE_LIMITED},
)
async def token(
    username: Annotated[str, Form(min_length=1, max_length=320, description="The email")],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
    call: AuthCallDep,
    grant_type: Annotated[Literal["password"], Form()] = "password",
    scope: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    session, settings, passwords = call.session, call.settings, call.passwords
    window = settings.login_window_s
    account = ratelimit.account_bucket(username)
    by_address = await ratelimit.hit(session, ratelimit.address_bucket(call.address), window)
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
        target = f"account:{crud.normalize_email(username)}"
        await call.audit("auth.login", target, None, outcome="failure")
        await session.commit()
        log.info("login failed", extra={"account": account})
        raise _bad_credentials()

    ttl = timedelta(seconds=settings.refresh_token_ttl_s)
    started = await sessions.start(session, user.id, ttl)
    if started is None:
        raise _bad_credentials()
    current, refresh_token = started
    access = await call.issuer.for_user(current, current["epoch"])
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash(password)
    await _audit_self(call, "auth.login", user)
    await session.commit()
    log.info("login succeeded", extra={"user_id": str(user.id)})
    return token_response(access, settings.access_token_ttl_s, refresh_token)


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Rotate a refresh token (reuse revokes the whole session)",
    responses=UNAUTHORIZED,
)
async def refresh(
    body: RefreshRequest,
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    issuer: IssuerDep,
) -> Response:
    # The signing key loaded first: once the rotation commits, signing must not fail on
    # the database, or the client's retry would present a used token (and lose its
    # session).
    await issuer.keys.signing_key()
    async with database.driver() as db:
        rotated = await sessions.rotate(
            db, body.refresh_token, timedelta(seconds=settings.refresh_token_ttl_s)
        )
    if rotated is None:
        async with database.sessionmaker() as session:
            await _refused_refresh(session, request, body.refresh_token)
        raise _bad_refresh_token()
    account, refresh_token = rotated
    access = await issuer.for_user(account, account["epoch"])
    return token_response(access, settings.access_token_ttl_s, refresh_token)


async def _refused_refresh(session: AsyncSession, request: Request, presented: str) -> None:
    """Act on a refresh token the one-statement rotation refused: a rotated or revoked
    token presented again ends its whole session (either the client or a thief holds a
    copy; the real user logs in again), and so does a token of an inactive account.
    Unknown and expired tokens change nothing (nor does a token found valid after all:
    a concurrent change; the client may retry)."""
    stored = await crud.refresh_token_by_secret(session, presented)
    if stored is None:
        return
    if stored.used_at is not None or stored.revoked_at is not None:
        await _end_session(
            session,
            request,
            stored,
            "auth.session.revoke",
            None,
            {"reason": "refresh token reuse"},
        )
        log.warning(
            "refresh token reuse detected; session revoked",
            extra={"user_id": str(stored.user_id), "family_id": str(stored.family_id)},
        )
        return
    if stored.expires_at <= datetime.now(UTC):
        return
    user = await crud.user_by_id(session, stored.user_id)
    if user is None or not user.is_active:
        await crud.revoke_family(session, stored.family_id)
        await session.commit()


@router.post(
    "/logout",
    status_code=204,
    summary="End the session of a refresh token (always 204: no token oracle)",
)
async def logout(body: RefreshRequest, request: Request, session: SessionDep) -> Response:
    stored = await crud.refresh_token_by_secret(session, body.refresh_token)
    if stored is not None:
        await _end_session(session, request, stored, "auth.logout", str(stored.user_id))
    return Response(status_code=204)


async def _end_session(
    session: AsyncSession,
    request: Request,
    stored: RefreshToken,
    action: str,
    actor: str | None,
    reason: dict[str, str] | None = None,
) -> None:
    """Revoke ``stored``'s whole family (its login session) and audit it, committed. An
    ``actor`` ends their own session; without one, the session was taken from them (a
    reused token) and the entry is a failure."""
    await crud.revoke_family(session, stored.family_id)
    await audit.record(
        session,
        request,
        action=action,
        target=f"user:{stored.user_id}",
        actor=actor,
        outcome="success" if actor else "failure",
        details={**(reason or {}), "family_id": str(stored.family_id)},
    )
    await session.commit()
