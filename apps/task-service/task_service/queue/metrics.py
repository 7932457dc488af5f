"""Prometheus metrics of the queue engine.

The ``taskplane_queue_*`` gauges and counters come from a snapshot the stats refresher
keeps (a scrape never queries the database on the scrape's clock); the histograms and
the maintenance counters are observed where things happen.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from task_service.queue.schemas import QueueStats

_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)

LEASE_LATENCY = Histogram(
    "taskplane_queue_lease_latency_seconds",
    "Time a task waited between becoming available and being leased.",
    ["queue"],
    buckets=_BUCKETS,
)
ACK_LATENCY = Histogram(
    "taskplane_queue_ack_latency_seconds",
    "Time between a lease and its complete/fail/release.",
    ["queue", "outcome"],
    buckets=_BUCKETS,
)
RESCUED = Counter(
    "taskplane_queue_rescuer_rescued",
    "Expired leases taken back by the rescuer.",
)
CLEANER_DELETED = Counter(
    "taskplane_queue_cleaner_rows_deleted",
    "Rows the cleaner deleted because their retention passed.",
    ["table"],
)
HANDED_BACK = Counter(
    "taskplane_queue_leases_undelivered",
    "Leases handed back because their client was gone before the response was sent.",
)


class QueueMetricsCollector(Collector):
    """Exposes the last stats snapshot as ``taskplane_queue_*`` series."""

    def __init__(self) -> None:
        self.snapshot: dict[str, QueueStats] = {}

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        gauges = {
            "available": "Tasks available to lease now.",
            "in_flight": "Tasks leased and not yet finished.",
            "scheduled": "Tasks waiting for their run_at.",
            "retrying": "Tasks waiting for their retry backoff.",
            "dead": "Dead-lettered tasks.",
            "oldest_available_age_seconds": "Age of the oldest available task.",
        }
        counters = {
            "completed": "Tasks completed.",
            "failed": "Failed attempts (reported failures and expired leases).",
        }
        families: list[GaugeMetricFamily | CounterMetricFamily] = []
        for name, doc in gauges.items():
            gauge = GaugeMetricFamily(f"taskplane_queue_{name}", doc, labels=["queue"])
            field = "oldest_available_age_s" if name.startswith("oldest") else name
            for queue, stats in self.snapshot.items():
                gauge.add_metric([queue], float(getattr(stats, field)))
            families.append(gauge)
        for name, doc in counters.items():
            counter = CounterMetricFamily(f"taskplane_queue_{name}", doc, labels=["queue"])
            for queue, stats in self.snapshot.items():
                counter.add_metric([queue], float(getattr(stats, f"{name}_total")))
            families.append(counter)
        return families


#: One per process: the registry is global, apps built in tests share it.
COLLECTOR = QueueMetricsCollector()
REGISTRY.register(COLLECTOR)
