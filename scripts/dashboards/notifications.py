"""The notifications dashboard: deliveries by channel and outcome, consumer lag, feed
errors."""

from __future__ import annotations

from .panels import NS, WINDOW, Dashboard, Panel, Query, p99_per, rate_per

NOTIFICATIONS = Dashboard(
    "taskplane-notifications",
    "taskplane notifications",
    (
        Panel(
            "Deliveries per second by channel and outcome",
            "ops",
            (rate_per("taskplane_notification_deliveries_total", NS, "channel, outcome"),),
        ),
        Panel(
            "Failed deliveries per second",
            "ops",
            (
                Query(
                    f"sum by (channel) (rate(taskplane_notification_deliveries_total"
                    f'{{{NS}, outcome="failed"}}[{WINDOW}]))',
                    "{{channel}}",
                ),
            ),
        ),
        Panel(
            "Delivery latency p99 (event to delivered)",
            "s",
            (p99_per("taskplane_notification_delivery_latency_seconds", NS, "channel"),),
        ),
        Panel(
            "Consumer lag",
            "s",
            (
                Query(
                    f"max(taskplane_notification_consumer_lag_seconds{{{NS}}})",
                    "oldest uncommitted event",
                ),
            ),
        ),
        Panel(
            "Consumer lag (events)",
            "short",
            (Query(f"max(taskplane_notification_consumer_lag_events{{{NS}}})", "events"),),
        ),
        Panel(
            "Events consumed per second",
            "ops",
            (
                Query(
                    f"sum(rate(taskplane_notification_events_consumed_total{{{NS}}}[{WINDOW}]))",
                    "events",
                ),
            ),
        ),
        Panel(
            "Feed errors and expired cursor",
            "short",
            (
                rate_per("taskplane_notification_feed_errors_total", NS, "reason"),
                Query(f"max(taskplane_notification_feed_cursor_expired{{{NS}}})", "cursor expired"),
            ),
        ),
    ),
)
