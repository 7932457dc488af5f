"""The Grafana dashboards of the chart, written from this one source.

``python -m scripts.dashboards`` rewrites ``charts/taskplane/dashboards/*.json``; the chart
ships each file as a Grafana sidecar ConfigMap. A test fails when the committed JSON
differs from what this package generates, so edit the panels here, never the JSON.

One module per dashboard; the panels are data (``Panel``, ``Logs``, ``Dashboard`` in
``panels.py``, with the selectors and PromQL helpers they share), and Grafana's dashboard
model is built from them (``grafana.py``) with ``grafana-foundation-sdk`` (Grafana's typed
builders), so a panel, target or variable field the model does not have fails here, not
in Grafana.

Every dashboard has the ``datasource`` and ``namespace`` variables; the metric dashboards
also ``service`` and ``queue`` (HTTP and database series carry the app's ``service``
label, queue series a ``queue`` label), and a dashboard with logs the ``logs`` (Loki)
datasource. Log queries select the labels the chart's log collector sets (``namespace``,
``service``, ``pod``, ``container``, ``level``) and filter on the JSON fields every
taskplane line has (``trace_id``, ``span_id``; the worker's task lines ``task_id``).
"""

from __future__ import annotations

import json
from pathlib import Path

from .database import DATABASE
from .grafana import build, render
from .notifications import NOTIFICATIONS
from .overview import OVERVIEW
from .queues import QUEUES
from .task import TASK
from .workers import WORKERS

__all__ = ["DASHBOARDS", "DASHBOARD_DIR", "build", "generated", "render"]

DASHBOARD_DIR = Path(__file__).resolve().parents[2] / "charts" / "taskplane" / "dashboards"

DASHBOARDS = (OVERVIEW, QUEUES, WORKERS, NOTIFICATIONS, DATABASE, TASK)


def generated() -> dict[Path, str]:
    """File path to file content of every dashboard."""
    return {
        DASHBOARD_DIR / f"{dashboard.uid}.json": json.dumps(render(dashboard), indent=2) + "\n"
        for dashboard in DASHBOARDS
    }
