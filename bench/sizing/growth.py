"""Cost growth: ``GET /queues/{q}`` and list-page latency as the tables grow.

The table is grown to each size in turn (10^4, 10^5, 10^6 rows by default) by set-based
``INSERT ... SELECT generate_series`` (not through the API), half finished tasks of one
queue (retention off, as a queue's history piles up) and half plain tasks (the list
page's rows), then vacuumed and analysed as an old table would be. At each size the real
task-service answers ``samples`` sequential requests of each kind; the result is the
median and p99 latency per size and the largest size over the smallest.
Drain rate against growth is :mod:`bench.queues.drain_growth`'s measurement.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import psycopg

from bench.adapter import HISTORY_SQL, RETENTION_OFF_SQL
from bench.runs import Log
from bench.sizing.api_ceiling import LIST_QUERY, SEED_SQL

QUEUE = "growth"
FULL_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)


def _latencies(client: httpx.Client, path: str, samples: int) -> dict[str, float]:
    client.get(path).raise_for_status()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
    }


def measure_growth(
    database_url: str, api_url: str, token: str, owner: str, quick: bool, samples: int, log: Log
) -> dict[str, Any]:
    sizes = QUICK_SIZES if quick else FULL_SIZES
    paths = {"queue_stats": f"/api/v1/queues/{QUEUE}", "list_page": LIST_QUERY}
    per_size: dict[str, Any] = {}
    with (
        psycopg.connect(database_url, autocommit=True) as db,
        httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client,
    ):
        db.execute(RETENTION_OFF_SQL, {"queue": QUEUE})
        present = 0
        for size in sizes:
            started = time.perf_counter()
            half = (size - present) // 2
            db.execute(HISTORY_SQL, {"queue": QUEUE, "rows": half})
            db.execute(SEED_SQL, {"owner": owner, "rows": size - present - half})
            db.execute("VACUUM (ANALYZE) tasks.tasks")
            present = size
            fill_s = time.perf_counter() - started
            per_size[str(size)] = {
                name: _latencies(client, path, samples) for name, path in paths.items()
            }
            per_size[str(size)]["fill_s"] = fill_s
            log(
                f"growth: {size:,} rows (fill {fill_s:.0f} s): "
                + ", ".join(
                    f"{name} median {per_size[str(size)][name]['median_ms']:.1f} ms"
                    for name in paths
                )
            )
    small, large = str(sizes[0]), str(sizes[-1])
    return {
        "sizes": list(sizes),
        "samples": samples,
        "latency": per_size,
        "large_over_small": {
            name: per_size[large][name]["median_ms"] / per_size[small][name]["median_ms"]
            for name in paths
        },
        "target": 1.2,
    }
