"""Dependencies of the user-service routes, as ``Annotated`` aliases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from taskplane_common.deps import app_state
from taskplane_common.errors import ProblemError
from taskplane_common.paging import PageLimit, page_size
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


@dataclass(frozen=True)
class DirectoryPageRequest:
    """The directory page asked for: its size (``limit`` capped like every list route's)
    and where it starts; unlike the other lists, the directory pages by user id."""

    size: int
    after: uuid.UUID | None


async def directory_page_request(
    settings: SettingsDep,
    limit: PageLimit = None,
    cursor: Annotated[uuid.UUID | None, Query(description="Last id of the previous page")] = None,
) -> DirectoryPageRequest:
    return DirectoryPageRequest(page_size(settings, limit), cursor)


DirectoryPageDep = Annotated[DirectoryPageRequest, Depends(directory_page_request)]
