"""Retention of the notification tables: finished deliveries with their attempts after
``TASKPLANE_DELIVERY_RETENTION_DAYS`` (30), in-app notifications read more than
``TASKPLANE_READ_NOTIFICATION_RETENTION_DAYS`` (90) ago. Pending deliveries and unread
notifications are never deleted. Counted in
``taskplane_notification_retention_rows_deleted{table}``.
"""

from __future__ import annotations

from sqlalchemy import text

from notification_service import metrics
from notification_service.config import Settings
from taskplane_common.db import Database
from taskplane_common.retention import RetentionCleaner, Rule

#: Attempts go in the same statement as their delivery (counted on their own).
CLEAN_DELIVERIES = text(
    """
    WITH doomed AS (
        SELECT id FROM notifications.deliveries
        WHERE status IN ('succeeded', 'failed')
          AND finished_at < now() - make_interval(days => :days)
        ORDER BY finished_at
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ), attempts AS (
        DELETE FROM notifications.delivery_attempts AS a USING doomed
        WHERE a.delivery_id = doomed.id
        RETURNING 1
    ), gone AS (
        DELETE FROM notifications.deliveries AS d USING doomed
        WHERE d.id = doomed.id
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone) AS deliveries,
           (SELECT count(*) FROM attempts) AS delivery_attempts
    """
)

CLEAN_READ_NOTIFICATIONS = text(
    """
    WITH doomed AS (
        SELECT id FROM notifications.notifications
        WHERE read AND read_at < now() - make_interval(days => :days)
        ORDER BY read_at
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM notifications.notifications AS n USING doomed
        WHERE n.id = doomed.id
        RETURNING 1
    )
    SELECT count(*) AS notifications FROM gone
    """
)


def retention_cleaner(settings: Settings, database: Database) -> RetentionCleaner:
    return RetentionCleaner(
        database,
        [
            Rule(CLEAN_DELIVERIES, {"days": settings.delivery_retention_days}),
            Rule(CLEAN_READ_NOTIFICATIONS, {"days": settings.read_notification_retention_days}),
        ],
        interval_s=settings.retention_interval_s,
        batch=settings.retention_batch,
        deleted=metrics.RETENTION_DELETED,
    )
