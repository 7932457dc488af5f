"""The public half of the signing keys, for every service's local token verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import crud
from auth_service.keys import KeyStore
from auth_service.schemas import Jwks, RevocationList
from taskplane_common.db import request_read_session
from taskplane_common.openapi import problems
from taskplane_common.revocations import REVOCATIONS_PATH

router = APIRouter(tags=["jwks"])


@router.get(
    "/.well-known/jwks.json",
    response_model=Jwks,
    responses={
        304: {"description": "Not modified: the ETag in If-None-Match is current"},
        **problems(503, s503="No signing key yet (the service is starting) or no database"),
    },
    summary="JSON Web Key Set",
)
async def jwks(request: Request) -> Response:
    """Short max-age: verifiers cache anyway and refetch on an unknown ``kid``; with
    ``If-None-Match`` a verifier holding the current keys gets a 304."""
    # Body, ETag and header lines are the key store's, encoded once per key list; the
    # store is read off the app, not through a dependency (none to solve per request).
    store: KeyStore = request.app.state.key_store
    document = await store.jwks_body()
    return document.response(request.headers.get("if-none-match"))


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
