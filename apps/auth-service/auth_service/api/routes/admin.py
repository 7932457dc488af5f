"""Admin API: roles, deactivation, service tokens and signing-key rotation."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from auth_service import crud
from auth_service.api.deps import AdminChangeDep, AdminDep, KeyStoreDep
from auth_service.api.routes.login import user_out
from auth_service.models import ServiceToken
from auth_service.schemas import (
    ServiceTokenCreate,
    ServiceTokenCreated,
    ServiceTokenOut,
    SigningKeyOut,
    UserChange,
    UserOut,
    UserPage,
)
from auth_service.tokens import SERVICE_TOKEN_PREFIX, service_subject
from taskplane_common.deps import SessionDep
from taskplane_common.errors import ProblemError
from taskplane_common.openapi import problems

log = logging.getLogger(__name__)

_ADMIN_ONLY = problems(401, 403, s401="No or invalid token", s403="Not an active admin")
router = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=_ADMIN_ONLY)

_NOT_FOUND = problems(404, s404="No such object")
_CONFLICT = problems(409, s409="Conflict")
#: What each role may do, ranked: moving down the ranking revokes the user's tokens.
_ROLE_RANK = {"viewer": 0, "member": 1, "admin": 2}


@router.get("/users", response_model=UserPage, summary="List accounts")
async def list_users(
    session: SessionDep,
    _admin: AdminDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=320, description="Last email seen")] = None,
) -> UserPage:
    users, more = await crud.list_users(session, limit, cursor)
    return UserPage(
        items=[user_out(u) for u in users], next_cursor=users[-1].email if more and users else None
    )


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    responses={**_NOT_FOUND, **_CONFLICT},
    summary="Change a role or (de)activate an account",
)
async def change_user(user_id: uuid.UUID, body: UserChange, change: AdminChangeDep) -> UserOut:
    """Disabling a user or lowering their role also revokes every access token they
    hold: each service refuses them within a minute."""
    session = change.session
    user = await crud.user_by_id(session, user_id, for_update=True)
    if user is None:
        raise ProblemError(404, f"user {user_id} does not exist", slug="user-not-found")
    before: dict[str, Any] = {"role": user.role, "is_active": user.is_active}
    was_admin = user.role == "admin" and user.is_active
    if body.role is not None:
        user.role = body.role
    if body.is_active is not None:
        user.is_active = body.is_active
    if was_admin and not (user.role == "admin" and user.is_active):
        await session.flush()
        if await crud.count_active_admins(session) == 0:
            raise ProblemError(409, "the last active admin cannot be removed", slug="last-admin")
    if not user.is_active:
        await crud.revoke_user_tokens(session, user.id)
    after = {"role": user.role, "is_active": user.is_active}
    lowered = _ROLE_RANK[user.role] < _ROLE_RANK[before["role"]]
    if lowered or (before["is_active"] and not user.is_active):
        reason = "user disabled" if not user.is_active else "role lowered"
        await crud.revoke_subject(session, str(user.id), reason)
    user.updated_at = datetime.now(UTC)
    await change.commit(
        "user.update", f"user:{user.id}", before=before, after=after, email=user.email
    )
    log.info(
        "user changed by admin",
        extra={"user_id": str(user.id), "admin": change.actor.subject, "role": user.role},
    )
    return user_out(user)


def _token_out(token: ServiceToken) -> ServiceTokenOut:
    return ServiceTokenOut.model_validate(token, from_attributes=True)


@router.post(
    "/service-tokens",
    status_code=201,
    response_model=ServiceTokenCreated,
    summary="Create a service token (the secret is shown once)",
)
async def create_service_token(
    body: ServiceTokenCreate, change: AdminChangeDep, response: Response
) -> ServiceTokenCreated:
    expires = (
        datetime.now(UTC) + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    )
    token, secret = await crud.create_service_token(
        change.session,
        name=body.name,
        scopes=list(body.scopes),
        created_by=change.actor.user_id,
        expires_at=expires,
        prefix=SERVICE_TOKEN_PREFIX,
    )
    await change.commit(
        "service_token.create",
        f"service-token:{token.id}",
        name=token.name,
        scopes=token.scopes,
        expires_at=str(expires),
    )
    log.info(
        "service token created", extra={"token_id": str(token.id), "admin": change.actor.subject}
    )
    response.headers["Cache-Control"] = "no-store"
    return ServiceTokenCreated(**_token_out(token).model_dump(), token=secret)


@router.get("/service-tokens", response_model=list[ServiceTokenOut], summary="List service tokens")
async def list_service_tokens(session: SessionDep, _admin: AdminDep) -> list[ServiceTokenOut]:
    return [_token_out(t) for t in await crud.list_service_tokens(session)]


@router.delete(
    "/service-tokens/{token_id}",
    status_code=204,
    responses=_NOT_FOUND,
    summary="Revoke a service token (its access tokens are refused within a minute)",
)
async def revoke_service_token(token_id: uuid.UUID, change: AdminChangeDep) -> Response:
    if not await crud.revoke_service_token(change.session, token_id):
        raise ProblemError(404, f"service token {token_id} does not exist", slug="token-not-found")
    await crud.revoke_subject(change.session, service_subject(token_id), "service token revoked")
    await change.commit("service_token.revoke", f"service-token:{token_id}")
    return Response(status_code=204)


@router.get(
    "/signing-keys",
    response_model=list[SigningKeyOut],
    summary="Usable signing keys, newest (signing) first",
)
async def list_signing_keys(store: KeyStoreDep, _admin: AdminDep) -> list[SigningKeyOut]:
    keys = await store.keys()
    return [
        SigningKeyOut(kid=k.kid, created_at=k.created_at, signing=i == 0)
        for i, k in enumerate(keys)
    ]


@router.post(
    "/signing-keys",
    status_code=201,
    response_model=SigningKeyOut,
    summary="Rotate: a new key signs from now on; older keys verify until retired",
)
async def rotate_signing_key(store: KeyStoreDep, admin: AdminDep) -> SigningKeyOut:
    key = await store.rotate()
    log.info("signing key rotated", extra={"kid": key.kid, "admin": admin.subject})
    return SigningKeyOut(kid=key.kid, created_at=key.created_at, signing=True)


@router.delete(
    "/signing-keys/{kid}",
    status_code=204,
    responses={**_NOT_FOUND, **_CONFLICT},
    summary="Retire a key: tokens it signed stop verifying",
)
async def retire_signing_key(
    kid: Annotated[str, Path(max_length=64)], store: KeyStoreDep, admin: AdminDep
) -> Response:
    await store.retire(kid)
    log.info("signing key retired", extra={"kid": kid, "admin": admin.subject})
    return Response(status_code=204)
