"""Retention of the notification tables: finished deliveries with their attempts after
``TASKPLANE_DELIVERY_RETENTION_DAYS`` (30), in-app notifications read more than
``TASKPLANE_READ_NOTIFICATION_RETENTION_DAYS`` (90) ago. Pending deliveries and unread
notifications are never deleted. Counted in
``taskplane_notification_retention_rows_deleted{table}``.
"""

from __future__ import annotations

from notification_service import metrics
from notification_service.config import Settings
from taskplane_common.db import Database
from taskplane_common.retention import Child, RetentionCleaner, batch_delete

#: Attempts go in the same statement as their delivery (counted on their own).
CLEAN_DELIVERIES = batch_delete(
    "notifications.deliveries",
    "deliveries",
    "id",
    "status IN ('succeeded', 'failed')"
    " AND finished_at < now() - make_interval(days => :delivery_retention_days)",
    "finished_at",
    Child("delivery_attempts", "notifications.delivery_attempts", "delivery_id"),
)
CLEAN_READ_NOTIFICATIONS = batch_delete(
    "notifications.notifications", "notifications", "id",
    "read AND read_at < now() - make_interval(days => :read_notification_retention_days)",
    "read_at",
)  # fmt: skip


def retention_cleaner(settings: Settings, database: Database) -> RetentionCleaner:
    return RetentionCleaner.of(
        settings, database, metrics.RETENTION_DELETED, CLEAN_DELIVERIES, CLEAN_READ_NOTIFICATIONS
    )
