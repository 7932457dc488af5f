"""Response declarations shared by the login and token-exchange routes."""

from __future__ import annotations

from taskplane_common.openapi import problems

#: Token responses are never cached (RFC 6749 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
UNAUTHORIZED = problems(401, s401="Bad credentials or token")
RATE_LIMITED = problems(429, s429="Too many attempts")
