"""The Grafana dashboards of the chart, written from this one source.

``python scripts/dashboards.py`` rewrites ``charts/taskplane/dashboards/*.json``; the chart
ships each file as a Grafana sidecar ConfigMap. A test fails when the committed JSON
differs from what this module generates, so edit the panels here, never the JSON.

The panels are data (``Panel``, ``Logs``, ``Dashboard`` below); Grafana's dashboard model
is built from them with ``grafana-foundation-sdk`` (Grafana's typed builders), so a panel,
target or variable field the model does not have fails here, not in Grafana.

Every dashboard has the ``datasource`` and ``namespace`` variables; the metric dashboards
also ``service`` and ``queue`` (HTTP and database series carry the app's ``service``
label, queue series a ``queue`` label), and a dashboard with logs the ``logs`` (Loki)
datasource. Log queries select the labels the chart's log collector sets (``namespace``,
``service``, ``pod``, ``container``, ``level``) and filter on the JSON fields every
taskplane line has (``trace_id``, ``span_id``; the worker's task lines ``task_id``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.builders import logs, loki, prometheus, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

DASHBOARD_DIR = Path(__file__).resolve().parents[1] / "charts" / "taskplane" / "dashboards"
PROMETHEUS = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
LOKI = model.DataSourceRef(type_val="loki", uid="${logs}")

NS = 'namespace="$namespace"'
SVC = f'{NS}, service=~"$service"'
QUEUE = f'{NS}, queue=~"$queue"'
#: Worker pods: the operator's PodMonitor is named <TaskQueue>-worker.
WORKER_JOB = f'{NS}, job=~".*worker.*"'
#: The SLO panels leave probes and scrapes out, like the burn-rate alerts.
API = f'{SVC}, route!~"/healthz|/readyz|/metrics"'
WINDOW = "5m"
#: Objectives of the burn-rate panels: the defaults of monitoring.rules.slo in values.yaml.
AVAILABILITY_SLO = 0.999
#: Latency objective: this share of requests answers within LATENCY_SLO_SECONDS.
LATENCY_SLO = 0.99
LATENCY_SLO_SECONDS = "0.5"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    queries: tuple[Query, ...]
    description: str = ""


@dataclass(frozen=True)
class Logs:
    """A logs panel: one LogQL query, repeated for each value of ``repeat`` if set."""

    title: str
    expr: str
    description: str = ""
    repeat: str = ""


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    panels: tuple[Panel | Logs, ...]
    #: Variables after datasource(s) and namespace.
    variables: tuple[str, ...] = ("service", "queue")


def rate(metric: str, selector: str, by: str) -> str:
    return f"sum by ({by}) (rate({metric}{{{selector}}}[{WINDOW}]))"


def quantile(q: float, metric: str, selector: str, by: str) -> str:
    buckets = f"{metric}_bucket{{{selector}}}"
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({buckets}[{WINDOW}])))"


def p50_p99(metric: str, selector: str, by: str) -> tuple[Query, ...]:
    """The median and the 99th percentile of a histogram, one line each per ``by``."""
    return tuple(
        Query(quantile(q, metric, selector, by), f"{{{{{by}}}}} p{round(q * 100)}")
        for q in (0.5, 0.99)
    )


def ratio(numerator: str, denominator: str) -> str:
    return f"{numerator} / {denominator}"


def error_ratio(window: str) -> str:
    errors = f'sum by (service) (rate(http_requests_total{{{API}, status=~"5.."}}[{window}]))'
    total = f"sum by (service) (rate(http_requests_total{{{API}}}[{window}]))"
    return ratio(errors, total)


def slow_ratio(window: str) -> str:
    fast = (
        f"sum by (service) (rate(http_request_duration_seconds_bucket"
        f'{{{API}, le="{LATENCY_SLO_SECONDS}"}}[{window}]))'
    )
    total = f"sum by (service) (rate(http_request_duration_seconds_count{{{API}}}[{window}]))"
    return f"1 - {ratio(fast, total)}"


def burn(expr: str, objective: float) -> str:
    return f"({expr}) / {round(1 - objective, 6)}"


OVERVIEW = Dashboard(
    "taskplane-services",
    "taskplane platform overview",
    (
        Panel(
            "Requests per second by service",
            "reqps",
            (Query(rate("http_requests_total", SVC, "service"), "{{service}}"),),
        ),
        Panel("5xx ratio by service", "percentunit", (Query(error_ratio(WINDOW), "{{service}}"),)),
        Panel(
            "Latency p50 / p99 by service",
            "s",
            p50_p99("http_request_duration_seconds", SVC, "service"),
        ),
        Panel(
            "Error budget burn rate (availability)",
            "x",
            (
                Query(burn(error_ratio("1h"), AVAILABILITY_SLO), "{{service}} 1h"),
                Query(burn(error_ratio("6h"), AVAILABILITY_SLO), "{{service}} 6h"),
            ),
            f"1 spends the {AVAILABILITY_SLO:.1%} monthly error budget exactly in 30 days; "
            "the alerts page at 14.4 (1h) and 6 (6h).",
        ),
        Panel(
            f"Latency budget burn rate (requests over {LATENCY_SLO_SECONDS}s)",
            "x",
            (
                Query(burn(slow_ratio("1h"), LATENCY_SLO), "{{service}} 1h"),
                Query(burn(slow_ratio("6h"), LATENCY_SLO), "{{service}} 6h"),
            ),
            f"Objective: {LATENCY_SLO:.0%} of requests within {LATENCY_SLO_SECONDS}s.",
        ),
        Panel(
            "Requests per second by route and status",
            "reqps",
            (
                Query(
                    rate("http_requests_total", SVC, "service, method, route, status"),
                    "{{service}} {{method}} {{route}} {{status}}",
                ),
            ),
        ),
        Panel(
            "p99 latency by route",
            "s",
            (
                Query(
                    quantile(0.99, "http_request_duration_seconds", SVC, "service, method, route"),
                    "{{service}} {{method}} {{route}}",
                ),
            ),
        ),
        Panel(
            "Requests in progress",
            "short",
            (Query(f"sum by (service) (http_requests_in_progress{{{SVC}}})", "{{service}}"),),
        ),
        Panel("Targets up", "short", (Query(f"sum by (job) (up{{{NS}}})", "{{job}}"),)),
        Logs(
            "Warnings and errors",
            f'{{{NS}, service=~"$service", level=~"WARNING|ERROR|CRITICAL"}} | json',
            "Every service's WARNING and ERROR lines; a line's trace_id opens its trace.",
        ),
        Logs(
            "Logs: $service",
            f'{{{NS}, service="$service"}} | json',
            "The service's lines (one panel per selected service); a line's trace_id "
            "opens its trace in Jaeger.",
            repeat="service",
        ),
    ),
)

QUEUES = Dashboard(
    "taskplane-queues",
    "taskplane queues",
    (
        Panel(
            "Available tasks",
            "short",
            (Query(f"max by (queue) (taskplane_queue_available{{{QUEUE}}})", "{{queue}}"),),
        ),
        Panel(
            "In-flight tasks",
            "short",
            (Query(f"max by (queue) (taskplane_queue_in_flight{{{QUEUE}}})", "{{queue}}"),),
        ),
        Panel(
            "Oldest available task age",
            "s",
            (
                Query(
                    f"max by (queue) (taskplane_queue_oldest_available_age_seconds{{{QUEUE}}})",
                    "{{queue}}",
                ),
            ),
        ),
        Panel(
            "Throughput: completed and failed attempts per second",
            "ops",
            (
                Query(
                    rate("taskplane_queue_completed_total", QUEUE, "queue"), "{{queue}} completed"
                ),
                Query(rate("taskplane_queue_failed_total", QUEUE, "queue"), "{{queue}} failed"),
            ),
        ),
        Panel(
            "Lease latency p50 / p99 (available to leased)",
            "s",
            p50_p99("taskplane_queue_lease_latency_seconds", QUEUE, "queue"),
        ),
        Panel(
            "Ack latency p99 by outcome (leased to finished)",
            "s",
            (
                Query(
                    quantile(0.99, "taskplane_queue_ack_latency_seconds", QUEUE, "queue, outcome"),
                    "{{queue}} {{outcome}}",
                ),
            ),
        ),
        Panel(
            "Retrying and scheduled tasks",
            "short",
            (
                Query(
                    f"max by (queue) (taskplane_queue_retrying{{{QUEUE}}})", "{{queue}} retrying"
                ),
                Query(
                    f"max by (queue) (taskplane_queue_scheduled{{{QUEUE}}})", "{{queue}} scheduled"
                ),
            ),
        ),
        Panel(
            "Dead-lettered tasks",
            "short",
            (Query(f"max by (queue) (taskplane_queue_dead{{{QUEUE}}})", "{{queue}}"),),
        ),
        Panel(
            "Expired leases rescued per second",
            "ops",
            (
                Query(
                    f"sum(rate(taskplane_queue_rescuer_rescued_total{{{NS}}}[{WINDOW}]))", "rescued"
                ),
            ),
        ),
    ),
)

WORKERS = Dashboard(
    "taskplane-workers",
    "taskplane workers and autoscaling",
    (
        Panel(
            "Desired vs ready replicas per TaskQueue",
            "short",
            (
                Query(
                    f"max by (taskqueue) (taskplane_operator_desired_replicas{{{QUEUE}}})",
                    "{{taskqueue}} desired",
                ),
                Query(
                    f"max by (taskqueue) (taskplane_operator_ready_replicas{{{QUEUE}}})",
                    "{{taskqueue}} ready",
                ),
            ),
        ),
        Panel(
            "Scaling decisions per TaskQueue",
            "short",
            (
                Query(
                    f"sum by (taskqueue, direction) "
                    f"(increase(taskplane_operator_scaling_decisions_total{{{QUEUE}}}[15m]))",
                    "{{taskqueue}} {{direction}}",
                ),
            ),
        ),
        Panel(
            "Queue depth the operator saw",
            "short",
            (
                Query(
                    f"max by (taskqueue, state) (taskplane_operator_queue_tasks{{{QUEUE}}})",
                    "{{taskqueue}} {{state}}",
                ),
            ),
        ),
        Panel(
            "Reconciles per second by result",
            "ops",
            (
                Query(
                    rate("taskplane_operator_reconciles_total", NS, "handler, result"),
                    "{{handler}} {{result}}",
                ),
            ),
        ),
        Panel(
            "Worker tasks per second by outcome",
            "ops",
            (
                Query(
                    rate("taskplane_worker_tasks_total", QUEUE, "queue, outcome"),
                    "{{queue}} {{outcome}}",
                ),
            ),
        ),
        Panel(
            "Worker handler duration p99",
            "s",
            (
                Query(
                    quantile(0.99, "taskplane_worker_task_duration_seconds", QUEUE, "queue"),
                    "{{queue}}",
                ),
            ),
        ),
        Panel(
            "Tasks being handled",
            "short",
            (Query(f"sum by (queue) (taskplane_worker_in_flight{{{QUEUE}}})", "{{queue}}"),),
        ),
        Panel(
            "Worker restarts (process start time changes, 1h)",
            "short",
            (
                Query(
                    f"sum by (pod) (changes(process_start_time_seconds{{{WORKER_JOB}}}[1h]))",
                    "{{pod}}",
                ),
            ),
        ),
        Panel(
            "Worker API errors per second",
            "ops",
            (Query(rate("taskplane_worker_api_errors_total", NS, "call"), "{{call}}"),),
        ),
    ),
)

NOTIFICATIONS = Dashboard(
    "taskplane-notifications",
    "taskplane notifications",
    (
        Panel(
            "Deliveries per second by channel and outcome",
            "ops",
            (
                Query(
                    rate("taskplane_notification_deliveries_total", NS, "channel, outcome"),
                    "{{channel}} {{outcome}}",
                ),
            ),
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
            (
                Query(
                    quantile(
                        0.99, "taskplane_notification_delivery_latency_seconds", NS, "channel"
                    ),
                    "{{channel}}",
                ),
            ),
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
                Query(rate("taskplane_notification_feed_errors_total", NS, "reason"), "{{reason}}"),
                Query(f"max(taskplane_notification_feed_cursor_expired{{{NS}}})", "cursor expired"),
            ),
        ),
    ),
)

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
            (
                Query(
                    rate("taskplane_db_pool_exhausted_total", SVC, "service"),
                    "{{service}}",
                ),
            ),
        ),
        Panel(
            "Statement latency p50 / p99",
            "s",
            p50_p99("taskplane_db_statement_duration_seconds", SVC, "service"),
        ),
        Panel(
            "Statements per second",
            "ops",
            (
                Query(
                    rate("taskplane_db_statement_duration_seconds_count", SVC, "service"),
                    "{{service}}",
                ),
            ),
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
TASK = Dashboard(
    "taskplane-task",
    "taskplane task",
    (
        Logs(
            "Lines naming the task",
            f'{{{NS}}} |= "$task_id" | json',
            "Every line that names the task id: the worker's lines for a task that failed, "
            "timed out or was released (field task_id) and, at DEBUG, request lines of its "
            "routes. Copy a line's trace_id into the trace variable for the whole trace, or "
            "find it in Jaeger by the tag messaging.message.id=<task id>.",
        ),
        Logs(
            "The task's trace: every service's lines",
            f'{{{NS}}} |= "$trace_id" | json | trace_id="$trace_id"',
            "Lines of every service written inside the task's trace: the enqueue, the "
            "lease completion, the handler and the deliveries (trace_id opens it in Jaeger).",
        ),
    ),
    variables=("task_id", "trace_id"),
)

DASHBOARDS = (OVERVIEW, QUEUES, WORKERS, NOTIFICATIONS, DATABASE, TASK)


def _query_variable(name: str, label: str, query: str) -> dashboard_builder.QueryVariable:
    every = name != "namespace"
    return (
        dashboard_builder.QueryVariable(name)
        .label(label)
        .datasource(PROMETHEUS)
        .query(query)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(every)
        .include_all(every)
    )


#: Every variable a dashboard may have after datasource(s) and namespace.
VARIABLES: dict[str, Callable[[], Builder[model.VariableModel]]] = {
    "service": lambda: _query_variable(
        "service", "Service", f"label_values(http_requests_total{{{NS}}}, service)"
    ),
    "queue": lambda: _query_variable(
        "queue", "Queue", f"label_values(taskplane_queue_available{{{NS}}}, queue)"
    ),
    "task_id": lambda: dashboard_builder.TextBoxVariable("task_id").label("Task id"),
    "trace_id": lambda: dashboard_builder.TextBoxVariable("trace_id").label("Trace id"),
}

#: Time series two to a row, logs panels the full width.
_WIDTH = 24


def _timeseries(panel_id: int, panel: Panel, position: model.GridPos) -> timeseries.Panel:
    legend = (
        common_builder.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
    )
    built = (
        timeseries.Panel()
        .id(panel_id)
        .title(panel.title)
        .description(panel.description)
        .datasource(PROMETHEUS)
        .unit(panel.unit)
        .grid_pos(position)
        .legend(legend)
    )
    for n, query in enumerate(panel.queries):
        built = built.with_target(
            prometheus.Dataquery()
            .ref_id(chr(ord("A") + n))
            .expr(query.expr)
            .legend_format(query.legend)
            .datasource(PROMETHEUS)
        )
    return built


def _logs(panel_id: int, panel: Logs, position: model.GridPos) -> logs.Panel:
    built = (
        logs.Panel()
        .id(panel_id)
        .title(panel.title)
        .description(panel.description)
        .datasource(LOKI)
        .grid_pos(position)
        .show_time(True)
        .wrap_log_message(True)
        .enable_log_details(True)
        .sort_order(common.LogsSortOrder.DESCENDING)
        .with_target(loki.Dataquery().ref_id("A").expr(panel.expr).datasource(LOKI))
    )
    if panel.repeat:
        built = built.repeat(panel.repeat).repeat_direction("v")
    return built


def _positions(panels: tuple[Panel | Logs, ...]) -> list[model.GridPos]:
    """Left to right, top to bottom: a time series is half a row (8 high), logs a row (10)."""
    positions, x, y, row_height = [], 0, 0, 0
    for panel in panels:
        width, height = (_WIDTH // 2, 8) if isinstance(panel, Panel) else (_WIDTH, 10)
        if x + width > _WIDTH:
            x, y, row_height = 0, y + row_height, 0
        positions.append(model.GridPos(h=height, w=width, x=x, y=y))
        x, row_height = x + width, max(row_height, height)
    return positions


def build(dashboard: Dashboard) -> dashboard_builder.Dashboard:
    """The dashboard as the SDK's builder."""
    built = (
        dashboard_builder.Dashboard(dashboard.title)
        .uid(dashboard.uid)
        .tags(["taskplane"])
        .timezone("browser")
        .readonly()
        .version(1)
        .refresh("30s")
        .time("now-1h", "now")
        .with_variable(
            dashboard_builder.DatasourceVariable("datasource")
            .label("Data source")
            .type("prometheus")
        )
    )
    if any(isinstance(panel, Logs) for panel in dashboard.panels):
        built = built.with_variable(
            dashboard_builder.DatasourceVariable("logs").label("Logs").type("loki")
        )
    built = built.with_variable(
        _query_variable("namespace", "Namespace", "label_values(up, namespace)")
    )
    for name in dashboard.variables:
        built = built.with_variable(VARIABLES[name]())
    for n, (panel, position) in enumerate(
        zip(dashboard.panels, _positions(dashboard.panels), strict=True)
    ):
        if isinstance(panel, Panel):
            built = built.with_panel(_timeseries(n + 1, panel, position))
        else:
            built = built.with_panel(_logs(n + 1, panel, position))
    return built


def render(dashboard: Dashboard) -> dict[str, Any]:
    """Grafana's dashboard model of one dashboard, as JSON data."""
    rendered: dict[str, Any] = json.loads(json.dumps(build(dashboard).build(), cls=JSONEncoder))
    return rendered


def generated() -> dict[Path, str]:
    """File path to file content of every dashboard."""
    return {
        DASHBOARD_DIR / f"{dashboard.uid}.json": json.dumps(render(dashboard), indent=2) + "\n"
        for dashboard in DASHBOARDS
    }


def main() -> int:
    for path, text in generated().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(DASHBOARD_DIR.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
