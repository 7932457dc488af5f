"""Prometheus metrics of the notification pipeline (the HTTP ones come from common)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES = Counter(
    "taskplane_notification_deliveries_total",
    "Delivery attempts by channel (webhook, email, in_app) and outcome (delivered, retry, failed).",
    ["channel", "outcome"],
)
DELIVERY_LATENCY = Histogram(
    "taskplane_notification_delivery_latency_seconds",
    "Time from the event (its occurred_at) to its successful delivery, by channel.",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400),
)
EVENTS_CONSUMED = Counter(
    "taskplane_notification_events_consumed_total", "Feed events routed and committed."
)
CONSUMER_LAG_EVENTS = Gauge(
    "taskplane_notification_consumer_lag_events",
    "Events read from the feed and not yet committed; a full page means at least this many.",
)
CONSUMER_LAG_SECONDS = Gauge(
    "taskplane_notification_consumer_lag_seconds",
    "Age of the oldest feed event not yet committed (0 when caught up with the feed head).",
)
FEED_CURSOR_EXPIRED = Gauge(
    "taskplane_notification_feed_cursor_expired",
    "1 while the feed answers 410 Gone: the cursor is older than the feed's retention.",
)
FEED_ERRORS = Counter(
    "taskplane_notification_feed_errors_total", "Failed feed reads, by reason.", ["reason"]
)
WEBHOOKS_DISABLED = Counter(
    "taskplane_notification_webhooks_disabled_total",
    "Subscriptions disabled after failing for longer than the configured period.",
)
RETENTION_DELETED = Counter(
    "taskplane_notification_retention_rows_deleted",
    "Rows the retention cleaner deleted because their retention passed.",
    ["table"],
)
