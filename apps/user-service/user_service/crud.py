"""Data access for profiles and notification preferences (callers commit)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from taskplane_client.models import EVENT_TYPES
from taskplane_common.db import Driver, Row
from taskplane_common.principals import Principal
from user_service.models import NotificationPreference, Profile
from user_service.schemas import Channels, Preferences, ProfileUpdate

#: Defaults when a user has said nothing: in-app for everything that concerns them,
#: email for the events that need action, webhooks on (a subscription at the
#: notification-service is already an explicit opt-in; this switch only mutes it).
DEFAULT_CHANNELS: dict[str, Channels] = {
    event: Channels(
        in_app=event != "task.updated",
        email=event in {"task.assigned", "task.failed", "task.dead"},
        webhook=True,
    )
    for event in EVENT_TYPES
}


def _default_name(principal: Principal) -> str:
    if principal.name:
        return principal.name[:200]
    if principal.email:
        return principal.email.split("@", 1)[0][:200] or principal.email[:200]
    return f"user-{principal.subject[:8]}"


async def ensure_profile(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID
) -> Profile:
    """The caller's profile, created from the token's claims on first use."""
    now = datetime.now(UTC)
    await session.execute(
        pg_insert(Profile)
        .values(
            user_id=user_id,
            email=principal.email,
            display_name=_default_name(principal),
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[Profile.user_id])
    )
    profile = (
        await session.execute(select(Profile).where(Profile.user_id == user_id).with_for_update())
    ).scalar_one()
    if principal.email and profile.email != principal.email:
        profile.email = principal.email
        profile.updated_at = now
    return profile


#: A profile's columns as the API names them (``ProfileOut``).
_PROFILE = "user_id AS id, email, display_name, timezone, locale, created_at, updated_at"
# Assembled from the constant above only.
#: The caller's profile in one statement: created from the token's claims on first use,
#: its email refreshed when the token carries another, else read as it is.
ENSURE_PROFILE_SQL = (
    "WITH written AS (INSERT INTO users.profiles"  # noqa: S608
    " (user_id, email, display_name, created_at, updated_at)"
    " VALUES (%(user_id)s, %(email)s, %(display_name)s, %(now)s, %(now)s)"
    " ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, updated_at = EXCLUDED.updated_at"
    " WHERE EXCLUDED.email IS NOT NULL AND profiles.email IS DISTINCT FROM EXCLUDED.email"
    f" RETURNING {_PROFILE})"
    " SELECT * FROM written UNION ALL"
    f" SELECT {_PROFILE} FROM users.profiles"
    " WHERE user_id = %(user_id)s AND NOT EXISTS (SELECT FROM written)"
)


def ensure_profile_params(principal: Principal, user_id: uuid.UUID) -> dict[str, Any]:
    """The parameters of :data:`ENSURE_PROFILE_SQL` for the caller."""
    return {
        "user_id": user_id,
        "email": principal.email,
        "display_name": _default_name(principal),
        "now": datetime.now(UTC),
    }


async def profile_row(db: Driver, principal: Principal, user_id: uuid.UUID) -> Row:
    """:func:`ensure_profile` as one autocommit statement: the profile as it is now, by
    ``ProfileOut``'s field names.

    When nothing is written the statement reads the row from its snapshot: a profile
    created by a concurrent first request after that snapshot is not in it, so that
    (once per user, at most) rare miss reads again.
    """
    params = ensure_profile_params(principal, user_id)
    while True:
        rows = await db.fetch(ENSURE_PROFILE_SQL, params)
        if rows:
            return rows[0]


def update_profile(profile: Profile, changes: ProfileUpdate) -> Profile:
    fields = {name: getattr(changes, name) for name in changes.model_fields_set}
    changed = False
    for name, value in fields.items():
        if value is not None and getattr(profile, name) != value:
            setattr(profile, name, value)
            changed = True
    if changed:
        profile.updated_at = datetime.now(UTC)
    return profile


async def get_preferences(session: AsyncSession, user_id: uuid.UUID) -> Preferences:
    rows = (
        await session.execute(
            select(NotificationPreference).where(NotificationPreference.user_id == user_id)
        )
    ).scalars()
    stored = {
        row.event_type: Channels(email=row.email, webhook=row.webhook, in_app=row.in_app)
        for row in rows
    }
    return Preferences.model_validate(
        {"events": {e: stored.get(e, DEFAULT_CHANNELS[e]) for e in EVENT_TYPES}}
    )


async def replace_preferences(
    session: AsyncSession, user_id: uuid.UUID, preferences: Preferences
) -> None:
    await session.execute(
        delete(NotificationPreference).where(NotificationPreference.user_id == user_id)
    )
    now = datetime.now(UTC)
    session.add_all(
        NotificationPreference(
            user_id=user_id,
            event_type=event,
            email=channels.email,
            webhook=channels.webhook,
            in_app=channels.in_app,
            updated_at=now,
        )
        for event, channels in preferences.events.items()
    )
    await session.flush()


async def get_profile(session: AsyncSession, user_id: uuid.UUID) -> Profile | None:
    return (
        await session.execute(select(Profile).where(Profile.user_id == user_id))
    ).scalar_one_or_none()


async def directory(
    session: AsyncSession,
    *,
    limit: int,
    after: uuid.UUID | None,
    text: str | None,
    search_email: bool,
) -> tuple[list[Profile], bool]:
    query = select(Profile).order_by(Profile.user_id).limit(limit + 1)
    if after is not None:
        query = query.where(Profile.user_id > after)
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        match: ColumnElement[bool] = Profile.display_name.ilike(pattern, escape="\\")
        if search_email:
            match = or_(match, Profile.email.ilike(pattern, escape="\\"))
        query = query.where(match)
    rows = list((await session.execute(query)).scalars())
    return rows[:limit], len(rows) > limit
