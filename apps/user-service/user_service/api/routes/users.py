"""Profiles, notification preferences and the directory."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from taskplane_common.db import DatabaseDep
from taskplane_common.deps import SessionDep
from taskplane_common.errors import ProblemError
from taskplane_common.jsonbody import read_as_json
from taskplane_common.openapi import problems
from taskplane_common.paging import PageLimit, page_size
from user_service import crud
from user_service.api.deps import MeDep, PrincipalDep, SettingsDep, UsersReaderDep
from user_service.models import Profile
from user_service.schemas import (
    DirectoryEntry,
    DirectoryEntryFull,
    DirectoryPage,
    Preferences,
    ProfileOut,
    ProfileUpdate,
)

_AUTH = problems(401, 403, s401="No or invalid token", s403="Not allowed")
router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=_AUTH)


def _shown(profile: Profile) -> dict[str, Any]:
    """What a profile shows its owner and admins (``ProfileOut``, ``DirectoryEntryFull``)."""
    return {
        "id": profile.user_id,
        "display_name": profile.display_name,
        "email": profile.email,
        "timezone": profile.timezone,
        "locale": profile.locale,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
    }


def _full_entry(profile: Profile) -> DirectoryEntryFull:
    return DirectoryEntryFull.model_validate(_shown(profile))


def _profile_out(profile: Profile) -> ProfileOut:
    return ProfileOut.model_validate(_shown(profile))


@router.get("/me", response_model=ProfileOut, summary="My profile")
async def get_me(me: MeDep, database: DatabaseDep) -> JSONResponse:
    return await read_as_json(database, crud.profile_row, *me)


@router.patch("/me", response_model=ProfileOut, summary="Update my profile")
async def patch_me(body: ProfileUpdate, session: SessionDep, me: MeDep) -> ProfileOut:
    profile = crud.update_profile(await crud.ensure_profile(session, *me), body)
    await session.commit()
    return _profile_out(profile)


@router.get(
    "/me/preferences",
    response_model=Preferences,
    summary="My notification preferences (every event type, defaults filled in)",
)
async def get_my_preferences(session: SessionDep, me: MeDep) -> Preferences:
    await crud.ensure_profile(session, *me)
    await session.commit()
    return await crud.get_preferences(session, me[1])


@router.put(
    "/me/preferences",
    response_model=Preferences,
    summary="Replace my notification preferences (omitted event types use the defaults)",
)
async def put_my_preferences(body: Preferences, session: SessionDep, me: MeDep) -> Preferences:
    await crud.ensure_profile(session, *me)
    await crud.replace_preferences(session, me[1], body)
    await session.commit()
    return await crud.get_preferences(session, me[1])


_NO_PROFILE = problems(404, s404="No such profile")


async def _looked_up_profile(
    user_id: uuid.UUID, session: SessionDep, _reader: UsersReaderDep
) -> Profile:
    """The profile a ``users:read`` caller looks up by id (404 without one)."""
    profile = await crud.get_profile(session, user_id)
    if profile is None:
        raise ProblemError(404, f"user {user_id} has no profile", slug="user-not-found")
    return profile


LookedUpProfileDep = Annotated[Profile, Depends(_looked_up_profile)]


@router.get(
    "/{user_id}/preferences",
    response_model=Preferences,
    responses=_NO_PROFILE,
    summary="A user's notification preferences (scope users:read: the notification-service)",
)
async def get_user_preferences(profile: LookedUpProfileDep, session: SessionDep) -> Preferences:
    return await crud.get_preferences(session, profile.user_id)


@router.get(
    "/{user_id}",
    response_model=DirectoryEntryFull,
    responses=_NO_PROFILE,
    summary="A user's profile with email (scope users:read: the notification-service)",
)
async def get_user(profile: LookedUpProfileDep) -> DirectoryEntryFull:
    return _full_entry(profile)


@router.get(
    "",
    response_model=DirectoryPage,
    summary="User directory for assignment (admins see every field)",
)
async def list_users(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: PageLimit = None,
    cursor: Annotated[uuid.UUID | None, Query(description="Last id of the previous page")] = None,
) -> DirectoryPage:
    size = page_size(settings, limit)
    full = principal.has_scope("users:read")
    profiles, more = await crud.directory(
        session, limit=size, after=cursor, text=q, search_email=full
    )
    items: list[DirectoryEntryFull | DirectoryEntry] = [
        _full_entry(p) if full else DirectoryEntry(id=p.user_id, display_name=p.display_name)
        for p in profiles
    ]
    return DirectoryPage(
        items=items, next_cursor=str(profiles[-1].user_id) if more and profiles else None
    )
