"""Login sessions' hot statements: a refresh token rotated, and a login's refresh token
issued, each in one statement that also reads what the access token needs (the account
as committed now and its revocation epoch, from one snapshot).

One snapshot for both keeps the pair consistent: a role change or deactivation commits
its epoch raise in the same transaction, so a token carries either the old role with
the old epoch (refused everywhere once the raise is seen) or the new role with the new
epoch. The cases that need more (a reused, revoked or expired token, a deactivated
account) fall back to the session path in the route, which handles them as before.
"""

# Statements are assembled from module constants only (never input): S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.tokens import new_secret, secret_hash
from taskplane_common.db import Driver, Row, fetch

_EPOCH = (
    "coalesce((SELECT r.epoch FROM auth.revocations r WHERE r.subject = u.id::text), 0) AS epoch"
)
_ISSUE = (
    "issued AS (INSERT INTO auth.refresh_tokens"
    " (id, family_id, user_id, token_hash, created_at, expires_at)"
    " SELECT %(token_id)s, {family}, id, %(token_hash)s, %(now)s, %(expires_at)s"
    " FROM account WHERE is_active)"
)
#: The account of a login (its password just verified) and its new refresh token.
LOGIN_SQL = (
    "WITH account AS (SELECT u.id, u.email, u.full_name, u.role, u.is_active, "
    + _EPOCH
    + " FROM auth.users u WHERE u.id = %(user_id)s), "
    + _ISSUE.format(family="%(family_id)s")
    + " SELECT * FROM account"
)
#: A usable refresh token of an active account marked used, its successor in the same
#: family issued; no row when the token is unknown, used, revoked or expired, or the
#: account inactive (the route's slow path then decides which).
REFRESH_SQL = (
    "WITH account AS (UPDATE auth.refresh_tokens t SET used_at = %(now)s FROM auth.users u"
    " WHERE t.token_hash = %(old_hash)s AND t.used_at IS NULL AND t.revoked_at IS NULL"
    " AND t.expires_at > %(now)s AND u.id = t.user_id AND u.is_active"
    " RETURNING u.id, u.email, u.full_name, u.role, u.is_active, t.family_id, "
    + _EPOCH
    + "), "
    + _ISSUE.format(family="family_id")
    + " SELECT * FROM account"
)


def issue_params(ttl: timedelta) -> tuple[str, dict[str, Any]]:
    """A new refresh token's secret and the statement parameters that store it."""
    secret = new_secret()
    now = datetime.now(UTC)
    return secret, {
        "token_id": uuid.uuid4(),
        "token_hash": secret_hash(secret),
        "now": now,
        "expires_at": now + ttl,
    }


async def rotate(db: Driver, presented: str, ttl: timedelta) -> tuple[Row, str] | None:
    """The account behind ``presented`` (with its epoch) and the successor token's
    secret, in one autocommit statement; None when the slow path must decide."""
    secret, params = rotation_params(presented, ttl)
    rows = await db.fetch(REFRESH_SQL, params)
    return (rows[0], secret) if rows else None


def rotation_params(presented: str, ttl: timedelta) -> tuple[str, dict[str, Any]]:
    """The successor's secret and :data:`REFRESH_SQL`'s parameters for ``presented``."""
    secret, params = issue_params(ttl)
    return secret, {**params, "old_hash": secret_hash(presented)}


async def start(
    session: AsyncSession, user_id: uuid.UUID, ttl: timedelta
) -> tuple[Row, str] | None:
    """A login's account as committed now and its new refresh token's secret, in the
    session's transaction; None when the account is gone or inactive (no token was
    issued)."""
    secret, params = issue_params(ttl)
    params.update(user_id=user_id, family_id=uuid.uuid4())
    rows = await fetch(session, LOGIN_SQL, params)
    return (rows[0], secret) if rows and rows[0]["is_active"] else None
