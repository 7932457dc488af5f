"""Dependencies of the notification-service routes, as ``Annotated`` aliases."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service.config import Settings
from notification_service.keys import SecretBox
from taskplane_common.db import request_session
from taskplane_common.deps import app_state
from taskplane_common.errors import ProblemError
from taskplane_common.principals import Principal, current_principal


async def user_id(principal: Annotated[Principal, Depends(current_principal)]) -> uuid.UUID:
    """Webhooks and notifications belong to people: service tokens have none."""
    if principal.user_id is None:
        raise ProblemError(403, "this call needs a user token", slug="forbidden")
    return principal.user_id


async def owner_or_admin(
    principal: Annotated[Principal, Depends(current_principal)],
) -> uuid.UUID | None:
    """Whose subscriptions the caller reaches: its own, or anyone's (None) for an admin."""
    return None if principal.is_admin else await user_id(principal)


SettingsDep = Annotated[Settings, Depends(app_state("settings"))]
SessionDep = Annotated[AsyncSession, Depends(request_session)]
OwnerOrAdminDep = Annotated[uuid.UUID | None, Depends(owner_or_admin)]
SecretBoxDep = Annotated[SecretBox, Depends(app_state("secret_box"))]
UserIdDep = Annotated[uuid.UUID, Depends(user_id)]
