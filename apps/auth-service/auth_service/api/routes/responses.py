"""Response declarations shared by the login and token-exchange routes."""

from __future__ import annotations

from typing import Any

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
#: Token responses are never cached (RFC 6749 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Bad credentials or token", **PROBLEM}
}
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many attempts", **PROBLEM}
}
