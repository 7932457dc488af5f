"""The workers and autoscaling dashboard: the operator's scaling decisions and the
workers' outcomes."""

from __future__ import annotations

from .panels import (
    NS,
    QUEUE,
    WORKER_JOB,
    Dashboard,
    Panel,
    Query,
    p99_per,
    rate_per,
)

WORKERS = Dashboard(
    "taskplane-workers",
    "taskplane workers and autoscaling",
    (
        Panel(
            "Desired vs ready replicas per TaskQueue",
            "short",
            (
                Query(
                    f"max by (taskqueue) (taskplane_operator_desired_replicas{{{QUEUE}}})",
                    "{{taskqueue}} desired",
                ),
                Query(
                    f"max by (taskqueue) (taskplane_operator_ready_replicas{{{QUEUE}}})",
                    "{{taskqueue}} ready",
                ),
            ),
        ),
        Panel(
            "Scaling decisions per TaskQueue",
            "short",
            (
                Query(
                    f"sum by (taskqueue, direction) "
                    f"(increase(taskplane_operator_scaling_decisions_total{{{QUEUE}}}[15m]))",
                    "{{taskqueue}} {{direction}}",
                ),
            ),
        ),
        Panel(
            "Queue depth the operator saw",
            "short",
            (
                Query(
                    f"max by (taskqueue, state) (taskplane_operator_queue_tasks{{{QUEUE}}})",
                    "{{taskqueue}} {{state}}",
                ),
            ),
        ),
        Panel(
            "Reconciles per second by result",
            "ops",
            (rate_per("taskplane_operator_reconciles_total", NS, "handler, result"),),
        ),
        Panel(
            "Worker tasks per second by outcome",
            "ops",
            (rate_per("taskplane_worker_tasks_total", QUEUE, "queue, outcome"),),
        ),
        Panel(
            "Worker handler duration p99",
            "s",
            (p99_per("taskplane_worker_task_duration_seconds", QUEUE, "queue"),),
        ),
        Panel(
            "Tasks being handled",
            "short",
            (Query(f"sum by (queue) (taskplane_worker_in_flight{{{QUEUE}}})", "{{queue}}"),),
        ),
        Panel(
            "Worker restarts (process start time changes, 1h)",
            "short",
            (
                Query(
                    f"sum by (pod) (changes(process_start_time_seconds{{{WORKER_JOB}}}[1h]))",
                    "{{pod}}",
                ),
            ),
        ),
        Panel(
            "Worker API errors per second",
            "ops",
            (rate_per("taskplane_worker_api_errors_total", NS, "call"),),
        ),
    ),
)
