"""Prometheus metrics of the operator, served on TASKPLANE_METRICS_PORT (/metrics).

Besides reconcile and error counters, the operator exports each queue's depth as it
sees it, which KEDA users miss: the numbers behind every scaling decision are visible.
"""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge, Histogram

_QUEUE_LABELS = ("namespace", "taskqueue", "queue")

RECONCILES = Counter(
    "taskplane_operator_reconciles_total",
    "Handler runs by handler and result (success, retry, error).",
    ("handler", "result"),
)
ERRORS = Counter(
    "taskplane_operator_errors_total",
    "Errors by condition reason (TaskServiceUnreachable, KubernetesApiError, ...).",
    ("reason",),
)
SCALING_DECISIONS = Counter(
    "taskplane_operator_scaling_decisions_total",
    "Changes of a worker Deployment's replicas by direction.",
    (*_QUEUE_LABELS, "direction"),
)
DESIRED_REPLICAS = Gauge(
    "taskplane_operator_desired_replicas", "Replicas the autoscaler wants.", _QUEUE_LABELS
)
READY_REPLICAS = Gauge(
    "taskplane_operator_ready_replicas",
    "Ready pods of the worker Deployment, as last observed.",
    _QUEUE_LABELS,
)
QUEUE_DEPTH = Gauge(
    "taskplane_operator_queue_tasks",
    "Tasks of a queue by state, as last read from the task-service.",
    (*_QUEUE_LABELS, "state"),
)
OLDEST_AVAILABLE_AGE = Gauge(
    "taskplane_operator_queue_oldest_available_age_seconds",
    "Age of the oldest available task.",
    _QUEUE_LABELS,
)
POLL_SECONDS = Histogram(
    "taskplane_operator_poll_duration_seconds",
    "Duration of one autoscaler poll (stats read, scale, status write).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUE_STATES = ("available", "scheduled", "in_flight", "retrying", "dead")


def forget_queue(namespace: str, taskqueue: str, queue: str) -> None:
    """Drop a deleted TaskQueue's series so dashboards do not show stale values."""
    labels = (namespace, taskqueue, queue)
    series: list[tuple[Gauge | Counter, tuple[str, ...]]] = [
        (DESIRED_REPLICAS, labels),
        (READY_REPLICAS, labels),
        (OLDEST_AVAILABLE_AGE, labels),
        *((QUEUE_DEPTH, (*labels, state)) for state in QUEUE_STATES),
        *((SCALING_DECISIONS, (*labels, direction)) for direction in ("up", "down")),
    ]
    for metric, values in series:
        with contextlib.suppress(KeyError):
            metric.remove(*values)
