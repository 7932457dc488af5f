"""The panels as data (``Panel``, ``Logs``, ``Dashboard``), the datasources and selectors
every dashboard shares, and the PromQL helpers the dashboards are written with."""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.models import dashboard as model

PROMETHEUS = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
LOKI = model.DataSourceRef(type_val="loki", uid="${logs}")

NS = 'namespace="$namespace"'
SVC = f'{NS}, service=~"$service"'
QUEUE = f'{NS}, queue=~"$queue"'
#: Worker pods: the operator's PodMonitor is named <TaskQueue>-worker.
WORKER_JOB = f'{NS}, job=~".*worker.*"'
WINDOW = "5m"


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


def per(by: str) -> str:
    """The legend of one line per value of the ``by`` labels: ``{{queue}} {{outcome}}``."""
    return " ".join(f"{{{{{label.strip()}}}}}" for label in by.split(","))


def rate_per(metric: str, selector: str, by: str) -> Query:
    """A counter's rate, one line per value of the ``by`` labels."""
    return Query(rate(metric, selector, by), per(by))


def p99_per(metric: str, selector: str, by: str) -> Query:
    """A histogram's 99th percentile, one line per value of the ``by`` labels."""
    return Query(quantile(0.99, metric, selector, by), per(by))


def p50_p99(metric: str, selector: str, by: str) -> tuple[Query, ...]:
    """The median and the 99th percentile of a histogram, one line each per ``by``."""
    return tuple(
        Query(quantile(q, metric, selector, by), f"{{{{{by}}}}} p{round(q * 100)}")
        for q in (0.5, 0.99)
    )
