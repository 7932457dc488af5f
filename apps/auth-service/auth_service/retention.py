"""Retention of the auth tables: refresh tokens ``TASKPLANE_REFRESH_TOKEN_RETENTION_S``
after they expired (an expired token is refused whether its row exists or not) and
rate-limit windows that ended (a new attempt starts a fresh window either way). Counted
in ``taskplane_auth_retention_rows_deleted{table}``.
"""

from __future__ import annotations

from prometheus_client import Counter

from auth_service.config import Settings
from taskplane_common.db import Database
from taskplane_common.retention import RetentionCleaner, batch_delete

RETENTION_DELETED = Counter(
    "taskplane_auth_retention_rows_deleted",
    "Rows the retention cleaner deleted because their retention passed.",
    ["table"],
)

CLEAN_REFRESH_TOKENS = batch_delete(
    "auth.refresh_tokens", "refresh_tokens", "id",
    "expires_at < now() - make_interval(secs => :refresh_token_retention_s)", "expires_at",
)  # fmt: skip
CLEAN_RATE_LIMITS = batch_delete(
    "auth.rate_limits", "rate_limits", "bucket",
    "window_start <= now() - make_interval(secs => :login_window_s)", "window_start",
)  # fmt: skip


def retention_cleaner(settings: Settings, database: Database) -> RetentionCleaner:
    return RetentionCleaner.of(
        settings, database, RETENTION_DELETED, CLEAN_REFRESH_TOKENS, CLEAN_RATE_LIMITS
    )
