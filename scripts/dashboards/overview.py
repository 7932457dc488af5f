"""The platform overview: request rates, errors and latency per service, the SLO burn
rates, and every service's warnings and logs."""

from __future__ import annotations

from .panels import (
    NS,
    SVC,
    WINDOW,
    Dashboard,
    Logs,
    Panel,
    Query,
    p50_p99,
    p99_per,
    rate_per,
)

#: The SLO panels leave probes and scrapes out, like the burn-rate alerts.
API = f'{SVC}, route!~"/healthz|/readyz|/metrics"'
#: Objectives of the burn-rate panels: the defaults of monitoring.rules.slo in values.yaml.
AVAILABILITY_SLO = 0.999
#: Latency objective: this share of requests answers within LATENCY_SLO_SECONDS.
LATENCY_SLO = 0.99
LATENCY_SLO_SECONDS = "0.5"


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
            (rate_per("http_requests_total", SVC, "service"),),
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
            (rate_per("http_requests_total", SVC, "service, method, route, status"),),
        ),
        Panel(
            "p99 latency by route",
            "s",
            (p99_per("http_request_duration_seconds", SVC, "service, method, route"),),
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
