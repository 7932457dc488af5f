"""The public half of the signing keys, for every service's local token verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import crud
from auth_service.api.deps import KeyStoreDep
from auth_service.schemas import Jwks, RevocationList
from taskplane_common.db import request_read_session
from taskplane_common.jsonbody import FastJSONResponse
from taskplane_common.revocations import REVOCATIONS_PATH

router = APIRouter(tags=["jwks"])


@router.get("/.well-known/jwks.json", response_model=Jwks, summary="JSON Web Key Set")
async def jwks(store: KeyStoreDep) -> Response:
    """Short max-age: verifiers cache anyway and refetch on an unknown ``kid``."""
    # The body is the key store's, serialised once per key list (no model validated and
    # dumped per request).
    body = await store.jwks_body()
    return FastJSONResponse(body, headers={"Cache-Control": "public, max-age=60"})


@router.get(
    REVOCATIONS_PATH,
    response_model=RevocationList,
    summary="Revoked subjects, for every service's verifier to poll (since=last version)",
)
async def revocations(
    session: Annotated[AsyncSession, Depends(request_read_session)],
    response: Response,
    since: Annotated[int, Query(ge=0, le=2**62, description="The version last seen")] = 0,
) -> RevocationList:
    """Public like the JWKS, and names subjects only by their SHA-256."""
    response.headers["Cache-Control"] = "no-store"
    return RevocationList.model_validate(await crud.revocation_page(session, since))
