"""A real Prometheus (Debian's ``prometheus`` package) scrapes the real processes of the
traffic fixture on loopback, labelled as the chart's ServiceMonitors and the operator's
PodMonitors label them; then every dashboard panel query and every vector selector of
every alert must return data through Prometheus's HTTP API.

A query whose series exist must return data: its label matchers, job regexes and the
labels the scrape adds fit what the components export. The operator runs against the
Kubernetes emulator and scales a TaskQueue up; a worker behind a proxy that refuses its
first leases counts transient API errors; webhook subscriptions of a user with a
profile get deliveries, delivered and failed. Nothing is allowed to be empty.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from taskplane_testing.postgres import free_port
from taskplane_testing.processes import wait_until
from taskplane_testing.promql import (
    Expression,
    alert_expressions,
    dashboard_queries,
    metric_names,
    rendered_rules,
)
from taskplane_testing.traffic import Traffic

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
NAMESPACE = "taskplane"
#: What Grafana substitutes for the variables: the namespace, and "All" for the others.
VARIABLES = {"$namespace": NAMESPACE, "$service": ".*", "$queue": ".*"}
_COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)(?!\s*bool)")
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")


def scrape_config(traffic: Traffic) -> dict[str, Any]:
    """One job per process. Services: the release's Service as ``service`` (their own
    ``service`` label wins, honorLabels as in the ServiceMonitor); workers: the job name
    and pod label the operator's PodMonitor gives them."""
    jobs = []
    for name, url in traffic.metrics_urls.items():
        target = url.removeprefix("http://").removesuffix("/metrics")
        if name.startswith("worker "):
            queue = name.removeprefix("worker ")
            job, labels = f"{NAMESPACE}/{queue}-worker", {"pod": f"{queue}-worker-0"}
        else:
            job, labels = name, {"service": f"taskplane-{name}"}
        jobs.append(
            {
                "job_name": job,
                "honor_labels": True,
                "static_configs": [
                    {"targets": [target], "labels": {"namespace": NAMESPACE, **labels}}
                ],
            }
        )
    return {"global": {"scrape_interval": "1s", "scrape_timeout": "1s"}, "scrape_configs": jobs}


@pytest.fixture(scope="module")
def prometheus(traffic: Traffic) -> Iterator[str]:
    assert Path(PROMETHEUS).exists(), "prometheus missing: apt-get install prometheus"
    workdir = Path(tempfile.mkdtemp(prefix="prometheus-"))
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(traffic)))
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        targets = len(traffic.metrics_urls)

        def scraped_enough() -> bool:
            """Every target up, each scraped at least 3 times (rates need 2 samples)."""
            try:
                if httpx.get(f"{url}/-/ready", timeout=5).status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
            up = query(url, "count_over_time(up[1m]) >= 3 and up == 1")
            return len(up) == targets

        wait_until(scraped_enough, "Prometheus scraping every process")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def query(url: str, expr: str) -> list[Any]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=30)
    body = response.json()
    assert response.status_code == 200, (expr, body)
    assert body["status"] == "success", (expr, body)
    result: list[Any] = body["data"]["result"]
    return result


def substitute(expr: str) -> str:
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def alert_selectors(expression: Expression) -> list[Expression]:
    """Each vector selector of an alert, as an instant query: the alert should not fire,
    but what it watches must exist."""
    return [
        Expression(f"{expression.origin}: {name}", f"count({name}{{{matchers}}})")
        for name, matchers in dict.fromkeys(_SELECTOR.findall(expression.expr))
    ]


def without_thresholds(expression: Expression) -> Expression:
    """The alert with every comparison outside label matchers turned into a ``bool``
    one: it returns 0 or 1 wherever its operands have series instead of filtering, so
    the whole expression (arithmetic, ``and``/``or`` matching) must return data whether
    or not the alert would fire."""
    parts = re.split(r"(\{[^}]*\})", expression.expr)
    return Expression(
        f"{expression.origin} (thresholds as bool)",
        "".join(
            part if part.startswith("{") else _COMPARISON.sub(r"\1 bool", part) for part in parts
        ),
    )


def series_names(traffic: Traffic) -> set[str]:
    """Names of the series the processes expose right now (families with samples)."""
    names: set[str] = set()
    for url in traffic.metrics_urls.values():
        for family in text_string_to_metric_families(httpx.get(url, timeout=30).text):
            names |= {sample.name for sample in family.samples}
    return names


def test_thresholds_become_bool_comparisons_outside_label_matchers() -> None:
    alert = Expression("alert", 'max(a{x!="1"}) > 0 and b{y=~"2"} != c or d == bool 1')
    assert without_thresholds(alert).expr == (
        'max(a{x!="1"}) > bool 0 and b{y=~"2"} != bool c or d == bool 1'
    )


def test_every_dashboard_query_and_alert_returns_data(prometheus: str, traffic: Traffic) -> None:
    alerts = alert_expressions(rendered_rules())
    checks = [
        *dashboard_queries(),
        *(without_thresholds(alert) for alert in alerts),
        *(selector for alert in alerts for selector in alert_selectors(alert)),
    ]
    assert len(checks) > 60
    with_series = series_names(traffic) | {"up"}
    empty = [
        f"{check.origin}: {sorted(metric_names(check.expr) - with_series) or 'its series exist'}"
        for check in checks
        if not query(prometheus, substitute(check.expr))
    ]
    assert not empty, "queries without data:\n" + "\n".join(empty)
