"""The public half of the signing keys, for every service's local token verification."""

from __future__ import annotations

from fastapi import APIRouter, Response

from auth_service.api.deps import KeyStoreDep
from auth_service.schemas import Jwks

router = APIRouter(tags=["jwks"])


@router.get("/.well-known/jwks.json", response_model=Jwks, summary="JSON Web Key Set")
async def jwks(store: KeyStoreDep, response: Response) -> Jwks:
    """Short max-age: verifiers cache anyway and refetch on an unknown ``kid``."""
    await store.signing_key()
    response.headers["Cache-Control"] = "public, max-age=60"
    return Jwks.model_validate(await store.jwks())
