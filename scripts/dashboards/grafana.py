"""Grafana's dashboard model of a :class:`~.panels.Dashboard`, built with
``grafana-foundation-sdk``: variables, time series and logs panels, their positions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.builders import logs, loki, prometheus, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from .panels import LOKI, NS, PROMETHEUS, Dashboard, Logs, Panel


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
