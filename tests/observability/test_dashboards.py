"""The dashboards are generated from scripts/dashboards/ (with grafana-foundation-sdk)
and carry the variables platform teams filter by; their log queries select the labels
the chart's log collector sets and filter on fields the services' JSON lines have."""

from __future__ import annotations

import json
import re

from taskplane_testing.promql import (
    CHART,
    DASHBOARDS,
    dashboard_queries,
    load_generator,
    log_queries,
)

#: Stream labels of the log pipeline (templates/log-collector.yaml) and fields of the
#: services' JSON lines (taskplane_client.observability; the worker adds task_id).
LOG_LABELS = {"namespace", "service", "pod", "container", "level"}
LOG_FIELDS = {"trace_id", "span_id", "task_id", "service", "level", "logger", "message"}


def test_committed_dashboards_are_the_generated_ones() -> None:
    expected = load_generator().generated()
    committed = {path: path.read_text() for path in sorted(DASHBOARDS.glob("*.json"))}
    assert sorted(expected) == sorted(committed), "a dashboard file without a source or vice versa"
    for path, text in expected.items():
        assert committed[path] == text, f"{path.name} is stale: run python -m scripts.dashboards"


def test_every_dashboard_has_the_namespace_service_and_queue_variables() -> None:
    """The metric dashboards filter by service and queue; the task dashboard by task
    and trace id; a dashboard with logs panels has the Loki datasource variable."""
    names = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        names[path.stem] = [v["name"] for v in dashboard["templating"]["list"]]
        assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
        has_logs = any(p["type"] == "logs" for p in dashboard["panels"])
        assert ("logs" in names[path.stem]) is has_logs, path.name
    for metrics in ("queues", "workers", "notifications", "database"):
        assert names[f"taskplane-{metrics}"] == ["datasource", "namespace", "service", "queue"]
    assert names["taskplane-services"] == ["datasource", "logs", "namespace", "service", "queue"]
    assert names["taskplane-task"] == ["datasource", "logs", "namespace", "task_id", "trace_id"]


def test_overview_has_a_logs_panel_per_service_and_the_task_dashboard_its_logs() -> None:
    overview = json.loads((DASHBOARDS / "taskplane-services.json").read_text())
    (per_service,) = [p for p in overview["panels"] if p.get("repeat") == "service"]
    assert per_service["type"] == "logs"
    assert 'service="$service"' in per_service["targets"][0]["expr"]
    task = json.loads((DASHBOARDS / "taskplane-task.json").read_text())
    exprs = [t["expr"] for p in task["panels"] for t in p["targets"]]
    assert any("$task_id" in e for e in exprs)
    assert any('trace_id="$trace_id"' in e for e in exprs)


def test_log_queries_use_the_collector_labels_and_the_line_fields() -> None:
    collector = (CHART / "templates" / "log-collector.yaml").read_text()
    set_by_collector = set(re.findall(r'target_label\s*=\s*"(\w+)"', collector))
    set_by_collector |= set(re.findall(r"stage\.labels \{\s*values = \{ (\w+)", collector))
    assert set_by_collector == LOG_LABELS
    queries = log_queries()
    assert len(queries) >= 4
    for query in queries:
        selector = re.match(r"\{([^}]*)\}", query.expr)
        assert selector, query
        labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector.group(1)))
        assert labels <= LOG_LABELS, query
        assert "| json" in query.expr, query
        pipeline = query.expr[selector.end() :].split("| json", 1)[1]
        fields = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"", pipeline))
        assert fields <= LOG_FIELDS, query


def test_every_query_is_scoped_to_the_namespace_variable() -> None:
    """A query without the namespace matcher would mix releases in one Grafana."""
    for query in [*dashboard_queries(), *log_queries()]:
        selectors = query.expr.count("{")
        assert selectors == query.expr.count('namespace="$namespace"'), query
