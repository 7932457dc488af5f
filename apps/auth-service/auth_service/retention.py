"""Retention of the auth tables: refresh tokens ``TASKPLANE_REFRESH_TOKEN_RETENTION_S``
after they expired (an expired token is refused whether its row exists or not) and
rate-limit windows that ended (a new attempt starts a fresh window either way). Counted
in ``taskplane_auth_retention_rows_deleted{table}``.
"""

from __future__ import annotations

from prometheus_client import Counter
from sqlalchemy import text

from auth_service.config import Settings
from taskplane_common.db import Database
from taskplane_common.retention import RetentionCleaner, Rule

RETENTION_DELETED = Counter(
    "taskplane_auth_retention_rows_deleted",
    "Rows the retention cleaner deleted because their retention passed.",
    ["table"],
)

CLEAN_REFRESH_TOKENS = text(
    """
    WITH doomed AS (
        SELECT id FROM auth.refresh_tokens
        WHERE expires_at < now() - make_interval(secs => :retention_s)
        ORDER BY expires_at
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM auth.refresh_tokens AS t USING doomed
        WHERE t.id = doomed.id
        RETURNING 1
    )
    SELECT count(*) AS refresh_tokens FROM gone
    """
)

CLEAN_RATE_LIMITS = text(
    """
    WITH doomed AS (
        SELECT bucket FROM auth.rate_limits
        WHERE window_start <= now() - make_interval(secs => :window_s)
        ORDER BY window_start
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM auth.rate_limits AS r USING doomed
        WHERE r.bucket = doomed.bucket
        RETURNING 1
    )
    SELECT count(*) AS rate_limits FROM gone
    """
)


def retention_cleaner(settings: Settings, database: Database) -> RetentionCleaner:
    return RetentionCleaner(
        database,
        [
            Rule(CLEAN_REFRESH_TOKENS, {"retention_s": settings.refresh_token_retention_s}),
            Rule(CLEAN_RATE_LIMITS, {"window_s": settings.login_window_s}),
        ],
        interval_s=settings.retention_interval_s,
        batch=settings.retention_batch,
        deleted=RETENTION_DELETED,
    )
