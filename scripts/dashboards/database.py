"""The database dashboard: pool use and saturation, statement latency and rate,
``/readyz`` failures."""

from __future__ import annotations

from .panels import SVC, WINDOW, Dashboard, Panel, Query, p50_p99, rate_per

DATABASE = Dashboard(
    "taskplane-database",
    "taskplane database",
    (
        Panel(
            "Pool connections in use / max",
            "short",
            (
                Query(
                    f"sum by (service) (taskplane_db_pool_connections_in_use{{{SVC}}})",
                    "{{service}} in use",
                ),
                Query(
                    f"sum by (service) (taskplane_db_pool_connections_max{{{SVC}}})",
                    "{{service}} max",
                ),
            ),
        ),
        Panel(
            "Pool saturation",
            "percentunit",
            (
                Query(
                    f"sum by (service) (taskplane_db_pool_connections_in_use{{{SVC}}}) "
                    f"/ sum by (service) (taskplane_db_pool_connections_max{{{SVC}}})",
                    "{{service}}",
                ),
            ),
        ),
        Panel(
            "Requests shed by a busy pool (503 database-busy)",
            "reqps",
            (rate_per("taskplane_db_pool_exhausted_total", SVC, "service"),),
        ),
        Panel(
            "Statement latency p50 / p99",
            "s",
            p50_p99("taskplane_db_statement_duration_seconds", SVC, "service"),
        ),
        Panel(
            "Statements per second",
            "ops",
            (rate_per("taskplane_db_statement_duration_seconds_count", SVC, "service"),),
        ),
        Panel(
            "Readiness probes per second by status (503: the database does not answer)",
            "ops",
            (
                Query(
                    f'sum by (service, status) (rate(http_requests_total{{{SVC}, route="/readyz"}}'
                    f"[{WINDOW}]))",
                    "{{service}} {{status}}",
                ),
            ),
        ),
    ),
)

#: One task across the services: the lines naming it (the worker's lines for a task that
#: failed, timed out or was released carry its ``task_id``), then every line of its trace
#: (the producer's, which the task-service, the worker and the notification-service
#: continue) by its ``trace_id``: from such a line, or from Jaeger, where the worker's
#: span of the task carries ``messaging.message.id`` = the task id.
