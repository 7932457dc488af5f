"""Every metric a dashboard panel, a dashboard variable or an alert names is exposed by
some component: scraped from the real processes after real traffic (services, workers,
and the operator running against the Kubernetes emulator).
The queries come from the chart's files themselves."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from taskplane_testing.promql import (
    Expression,
    alert_expressions,
    dashboard_queries,
    metric_names,
    rendered_rules,
    variable_queries,
)
from taskplane_testing.traffic import Traffic, assert_no_secret_logged

#: Series Prometheus writes itself for every target.
PROMETHEUS_OWN = {"up"}
_SUFFIXES = {"histogram": ("_bucket", "_count", "_sum"), "summary": ("", "_count", "_sum")}


def exposed_names(exposition: str) -> set[str]:
    """Series names a /metrics text defines, including families with no sample yet."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        base = f"{family.name}_total" if family.type == "counter" else family.name
        names |= {family.name + suffix for suffix in _SUFFIXES.get(family.type, ())} or {base}
        names |= {sample.name for sample in family.samples}
    return names


def every_query() -> list[Expression]:
    return [*dashboard_queries(), *variable_queries(), *alert_expressions(rendered_rules())]


def test_the_metric_name_parser_reads_promql() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket"
        '{namespace="$namespace", route!~"/healthz|/readyz"}[5m]))) / on (service) '
        "max without (pod) (taskplane_db_pool_connections_max) > (14.4 * 0.001)"
    )
    assert metric_names(expr) == {
        "http_request_duration_seconds_bucket",
        "taskplane_db_pool_connections_max",
    }


def test_every_metric_in_dashboards_and_alerts_is_exposed(traffic: Traffic) -> None:
    exposed: dict[str, set[str]] = {}
    for name, url in traffic.metrics_urls.items():
        response = httpx.get(url, timeout=30)
        assert response.status_code == 200, name
        exposed[name] = exposed_names(response.text)
    everything = set().union(*exposed.values()) | PROMETHEUS_OWN

    queries = every_query()
    assert len(queries) > 50, "the dashboards and rules were read"
    missing = {
        f"{query.origin}: {name}"
        for query in queries
        for name in metric_names(query.expr)
        if name not in everything
    }
    assert not missing, sorted(missing)
    # each component contributes what only it defines
    assert "taskplane_queue_lease_latency_seconds_bucket" in exposed["task-service"]
    assert "taskplane_worker_tasks_total" in exposed["worker obs-ok"]
    assert "taskplane_notification_consumer_lag_seconds" in exposed["notification-service"]
    assert "taskplane_operator_ready_replicas" in exposed["operator"]


def test_no_log_line_carries_a_token_or_password(traffic: Traffic) -> None:
    assert_no_secret_logged(traffic.logs, traffic.secrets)
