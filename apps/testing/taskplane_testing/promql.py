"""The PromQL of the chart, read from the files the chart ships: every dashboard target
and every alert expression of the rendered PrometheusRule. Tests take their lists from
here, never from a hand-kept copy."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import helm_python as helm
import yaml

from taskplane_testing import REPO_ROOT
from taskplane_testing.scripts import load_script

CHART = REPO_ROOT / "charts" / "taskplane"
DASHBOARDS = CHART / "dashboards"
#: PromQL functions, keywords and Grafana variables: every other identifier that is not a
#: label name or inside a string is a metric name.
_NOT_METRICS = {
    "sum", "max", "min", "avg", "count", "by", "without", "rate", "increase", "delta",
    "changes", "histogram_quantile", "on", "ignoring", "group_left", "group_right", "and",
    "or", "unless", "bool", "offset", "max_over_time", "min_over_time", "avg_over_time",
    "absent", "clamp_min", "clamp_max", "label_values", "time", "vector", "deriv",
}  # fmt: skip


@dataclass(frozen=True)
class Expression:
    """One query and where it came from (for failure messages)."""

    origin: str
    expr: str


def load_generator() -> ModuleType:
    """scripts/dashboards/, the one source of the dashboards."""
    return load_script("dashboards")


def _targets(datasource_type: str) -> list[Expression]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                if target["datasource"]["type"] == datasource_type:
                    found.append(Expression(f"{path.name}: {panel['title']}", target["expr"]))
    return found


def dashboard_queries() -> list[Expression]:
    """Every PromQL target of the dashboards."""
    return _targets("prometheus")


def log_queries() -> list[Expression]:
    """Every LogQL target of the dashboards (the logs panels)."""
    return _targets("loki")


def rendered_rules() -> dict[str, Any]:
    """The PrometheusRule's groups as Helm renders them with the chart's default CI values
    (release and namespace ``taskplane``)."""
    values = yaml.safe_load((CHART / "ci" / "default-values.yaml").read_text()) or {}
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name="taskplane", namespace="taskplane", is_install=True)
    (text,) = [body for source, body in rendered.items() if source.endswith("prometheusrule.yaml")]
    return {"groups": yaml.safe_load(text)["spec"]["groups"]}


def alert_expressions(rules: dict[str, Any]) -> list[Expression]:
    return [
        Expression(f"alert {rule['alert']}", rule["expr"])
        for group in rules["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def metric_names(expr: str) -> set[str]:
    """Metric names of a PromQL expression: identifiers outside strings, label matchers,
    grouping clauses and range selectors."""
    text = re.sub(r'"[^"]*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", "[]", text)
    names = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text))
    return {n for n in names if n not in _NOT_METRICS and not re.fullmatch(r"[0-9.e]+", n)}


def variable_queries() -> list[Expression]:
    """The selector of every ``label_values(<selector>, <label>)`` dashboard variable."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for variable in json.loads(path.read_text())["templating"]["list"]:
            if variable["type"] != "query":
                continue
            match = re.fullmatch(r"label_values\((.+),\s*\w+\)", variable["query"])
            if match:
                found.append(Expression(f"{path.name}: ${variable['name']}", match.group(1)))
    return found
