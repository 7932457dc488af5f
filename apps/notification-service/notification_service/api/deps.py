"""Dependencies of the notification-service routes, as ``Annotated`` aliases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service.config import Settings
from notification_service.keys import SecretBox
from taskplane_common import audit
from taskplane_common.deps import SessionDep, app_state
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
OwnerOrAdminDep = Annotated[uuid.UUID | None, Depends(owner_or_admin)]
SecretBoxDep = Annotated[SecretBox, Depends(app_state("secret_box"))]
UserIdDep = Annotated[uuid.UUID, Depends(user_id)]


@dataclass(frozen=True)
class WebhookChange:
    """What a route that changes the caller's own subscriptions works with: the
    transaction, the settings, the owner (the audit entry's actor) and the request."""

    session: AsyncSession
    settings: Settings
    owner: uuid.UUID
    request: Request

    async def commit(self, action: str, webhook_id: uuid.UUID, **details: Any) -> None:
        """Record the change's audit entry (never the secret itself) and commit both."""
        await audit.record(
            self.session,
            self.request,
            action=action,
            target=f"webhook:{webhook_id}",
            actor=str(self.owner),
            details=details,
        )
        await self.session.commit()


async def webhook_change(
    request: Request, session: SessionDep, settings: SettingsDep, owner: UserIdDep
) -> WebhookChange:
    return WebhookChange(session, settings, owner, request)


WebhookChangeDep = Annotated[WebhookChange, Depends(webhook_change)]
