"""The public half of the signing keys, for every service's local token verification."""

from __future__ import annotations

from fastapi import APIRouter, Response

from auth_service.api.deps import KeyStoreDep
from auth_service.schemas import Jwks
from taskplane_common.jsonbody import FastJSONResponse

router = APIRouter(tags=["jwks"])


@router.get("/.well-known/jwks.json", response_model=Jwks, summary="JSON Web Key Set")
async def jwks(store: KeyStoreDep, response: Response) -> Response:
    """Short max-age: verifiers cache anyway and refetch on an unknown ``kid``."""
    # The body is the key store's, serialised once per key list (no model validated and
    # dumped per request).
    await store.signing_key()
    body = await store.jwks_body()
    return FastJSONResponse(body, headers={"Cache-Control": "public, max-age=60"})
