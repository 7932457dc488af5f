"""Dependencies of the user-service routes, as ``Annotated`` aliases."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from taskplane_common.deps import app_state
from taskplane_common.errors import ProblemError
from taskplane_common.principals import Principal, current_principal, require_scope
from user_service.config import Settings


async def user_principal(
    principal: Annotated[Principal, Depends(current_principal)],
) -> tuple[Principal, uuid.UUID]:
    """``/me`` needs a person: service tokens have no profile."""
    if principal.user_id is None:
        raise ProblemError(403, "this call needs a user token", slug="forbidden")
    return principal, principal.user_id


SettingsDep = Annotated[Settings, Depends(app_state("settings"))]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
MeDep = Annotated[tuple[Principal, uuid.UUID], Depends(user_principal)]
UsersReaderDep = Annotated[Principal, Depends(require_scope("users:read"))]
