"""Responses shared by the login and token-exchange routes: the token answer and the
refusals they declare."""

from __future__ import annotations

from fastapi import Response

from taskplane_common.jsonbody import FastJSONResponse
from taskplane_common.openapi import problems

#: Token responses are never cached (RFC 6749 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
UNAUTHORIZED = problems(401, s401="Bad credentials or token")
RATE_LIMITED = problems(429, s429="Too many attempts")


def token_response(
    access_token: str, expires_in: int, refresh_token: str | None = None
) -> Response:
    """An ``AccessToken`` body (a ``TokenPair`` with a refresh token), serialised once,
    not to be cached."""
    body: dict[str, str | int] = {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": expires_in,
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return FastJSONResponse(body, headers=NO_STORE)
