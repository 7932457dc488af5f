"""The queues dashboard: depth, age, throughput, lease and ack latency, dead letters."""

from __future__ import annotations

from .panels import (
    NS,
    QUEUE,
    WINDOW,
    Dashboard,
    Panel,
    Query,
    p50_p99,
    p99_per,
    rate,
)

QUEUES = Dashboard(
    "taskplane-queues",
    "taskplane queues",
    (
        Panel(
            "Available tasks",
            "short",
            (Query(f"max by (queue) (taskplane_queue_available{{{QUEUE}}})", "{{queue}}"),),
        ),
        Panel(
            "In-flight tasks",
            "short",
            (Query(f"max by (queue) (taskplane_queue_in_flight{{{QUEUE}}})", "{{queue}}"),),
        ),
        Panel(
            "Oldest available task age",
            "s",
            (
                Query(
                    f"max by (queue) (taskplane_queue_oldest_available_age_seconds{{{QUEUE}}})",
                    "{{queue}}",
                ),
            ),
        ),
        Panel(
            "Throughput: completed and failed attempts per second",
            "ops",
            (
                Query(
                    rate("taskplane_queue_completed_total", QUEUE, "queue"), "{{queue}} completed"
                ),
                Query(rate("taskplane_queue_failed_total", QUEUE, "queue"), "{{queue}} failed"),
            ),
        ),
        Panel(
            "Lease latency p50 / p99 (available to leased)",
            "s",
            p50_p99("taskplane_queue_lease_latency_seconds", QUEUE, "queue"),
        ),
        Panel(
            "Ack latency p99 by outcome (leased to finished)",
            "s",
            (p99_per("taskplane_queue_ack_latency_seconds", QUEUE, "queue, outcome"),),
        ),
        Panel(
            "Retrying and scheduled tasks",
            "short",
            (
                Query(
                    f"max by (queue) (taskplane_queue_retrying{{{QUEUE}}})", "{{queue}} retrying"
                ),
                Query(
                    f"max by (queue) (taskplane_queue_scheduled{{{QUEUE}}})", "{{queue}} scheduled"
                ),
            ),
        ),
        Panel(
            "Dead-lettered tasks",
            "short",
            (Query(f"max by (queue) (taskplane_queue_dead{{{QUEUE}}})", "{{queue}}"),),
        ),
        Panel(
            "Expired leases rescued per second",
            "ops",
            (
                Query(
                    f"sum(rate(taskplane_queue_rescuer_rescued_total{{{NS}}}[{WINDOW}]))", "rescued"
                ),
            ),
        ),
    ),
)
