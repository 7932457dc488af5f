"""Drain rate against table growth: does a queue slow down as finished tasks pile up?

The same as-deployed run of taskplane's engine (worker processes of
:mod:`bench.queues.runner`, :func:`bench.queues.deployed.run_processes`) drains N tasks from a
``tasks.tasks`` that already holds a small and a large number of finished tasks of the
same queue (10^4 and 10^6 by default), retention off. The finished rows are written by
one set-based ``INSERT ... SELECT generate_series`` (not through the API), then the
table is vacuumed and analysed, as an old table would be. Repeats interleave small and
large, and the result is the ratio of drain rates, large over small (1.0: no slowdown).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from bench.adapter import HISTORY_SQL, QUEUE, RETENTION_OFF_SQL, outcome
from bench.queues.databases import install_templates
from bench.queues.deployed import run_processes
from bench.queues.peers import TaskplanePeer
from bench.runs import DeployedConfig
from bench.stats import ratio_summary, summary
from taskplane_testing.postgres import PostgresServer

#: Finished rows already in the table: (small, large).
FULL_SIZES = (10_000, 1_000_000)
QUICK_SIZES = (1_000, 20_000)


class PrefilledTaskplane(TaskplanePeer):
    """taskplane's engine on a table that already holds ``rows`` finished tasks."""

    def __init__(self, rows: int) -> None:
        super().__init__(pool_size=2)
        self.rows = rows

    async def enqueue(self, url: str, batches: int, batch: int) -> list[str]:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            await connection.execute(RETENTION_OFF_SQL, {"queue": QUEUE})
            await connection.execute(HISTORY_SQL, {"queue": QUEUE, "rows": self.rows})
            await connection.execute("VACUUM (ANALYZE) tasks.tasks")
        return await super().enqueue(url, batches, batch)

    async def outcome(self, url: str, ids: Sequence[str]) -> dict[str, int]:
        """The run's own tasks: the prefilled ones are subtracted."""
        counts = await outcome(url)
        return {**counts, "finished": counts["finished"] - self.rows}


async def run_drain_growth(
    server: PostgresServer, config: DeployedConfig, quick: bool, log: Callable[[str], None]
) -> dict[str, Any]:
    """Paired drains on a small and a large history; the large/small rate ratio."""
    sizes = QUICK_SIZES if quick else FULL_SIZES
    peers = [PrefilledTaskplane(rows) for rows in sizes]
    await install_templates(server, {"taskplane": peers[0]})
    runs: dict[int, list[dict[str, Any]]] = {rows: [] for rows in sizes}
    for repeat in range(config.repeats):
        for peer in peers:
            started = time.perf_counter()
            run = await run_processes(server, peer, config, 1000 + repeat)
            runs[peer.rows].append(run)
            log(
                f"drain growth: {peer.rows:,} finished rows: process"
                f" {run['n'] / run['process_s']:,.0f}/s, exactly once: {run['exactly_once']}"
                f" ({time.perf_counter() - started:.0f} s with the fill)"
            )
    rates = {rows: [r["n"] / r["process_s"] for r in runs[rows]] for rows in sizes}
    small, large = sizes
    result: dict[str, Any] = {
        "finished_rows": list(sizes),
        "n": config.n,
        "workers": config.workers,
        "concurrency": config.concurrency,
        "process_per_s": {str(rows): summary(rates[rows]) for rows in sizes},
        "large_over_small": ratio_summary(rates[large], rates[small]),
        "exactly_once": all(r["exactly_once"] for rows in sizes for r in runs[rows]),
        "checks": runs,
    }
    ratio = result["large_over_small"]
    log(
        f"drain growth: rate with {large:,} / with {small:,} finished rows:"
        f" {ratio['median']:.2f} [{ratio['min']:.2f}-{ratio['max']:.2f}]"
    )
    return result
