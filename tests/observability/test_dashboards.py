"""The dashboards are generated from scripts/dashboards.py and carry the variables
platform teams filter by."""

from __future__ import annotations

import json

from observability_queries import DASHBOARDS, dashboard_queries, load_generator


def test_committed_dashboards_are_the_generated_ones() -> None:
    expected = load_generator().generated()
    committed = {path: path.read_text() for path in sorted(DASHBOARDS.glob("*.json"))}
    assert sorted(expected) == sorted(committed), "a dashboard file without a source or vice versa"
    for path, text in expected.items():
        assert committed[path] == text, f"{path.name} is stale: run python scripts/dashboards.py"


def test_every_dashboard_has_the_namespace_service_and_queue_variables() -> None:
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        names = [v["name"] for v in dashboard["templating"]["list"]]
        assert names == ["datasource", "namespace", "service", "queue"], path.name
        assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_every_query_is_scoped_to_the_namespace_variable() -> None:
    """A query without the namespace matcher would mix releases in one Grafana."""
    for query in dashboard_queries():
        selectors = query.expr.count("{")
        assert selectors == query.expr.count('namespace="$namespace"'), query
