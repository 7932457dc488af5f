"""Shared loop: the queue engines' SQL side by side, through one loop that is none of theirs.

This isolates the SQL each library issues; how each is really deployed (its own worker,
batching, concurrency) is measured in :mod:`bench.queues.deployed`. The peers themselves
(install, enqueue, consumers, their own records) are in :mod:`bench.queues.peers`.

Every peer runs on the same PostgreSQL server, in its own database made fresh for each
repeat from a template that holds only its schema. One connection enqueues ``n`` tasks
in batches; then ``consumers`` asyncio tasks, each with its own connection, loop
``lease(batch) -> no-op -> complete`` with one commit per completion until all ``n``
tasks are done. The same loop (:func:`drain`) drives every peer; only the two calls
differ, and each peer uses its own library's public query layer for them.

Exactly-once is checked twice: the ids the consumers completed (no duplicates, none
missing) and each library's own records (:meth:`bench.queues.peers.Peer.outcome`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.cpu import CpuMeter
from bench.queues.databases import clone, drop, fill, install_templates
from bench.queues.peers import PEERS, Consumer, Peer
from bench.stats import percentile, ratio_summary, summary
from taskplane_testing.postgres import PostgresServer

DRAIN_TIMEOUT_S = 600.0


@dataclass
class RunResult:
    peer: str
    n: int
    enqueue_s: float
    process_s: float
    latencies_s: list[float]
    completed_ids: list[str]
    enqueued_ids: list[str]
    db: dict[str, int]
    db_exactly_once: bool
    #: CPU time of this (client) process while draining, per task: how much of the cost
    #: is the Python side (ORM, driver, the library) rather than PostgreSQL.
    client_cpu_ms_per_task: float = 0.0
    #: CPU time of the PostgreSQL server (all its processes) while draining, per task.
    postgres_cpu_ms_per_task: float = 0.0

    @property
    def exactly_once(self) -> bool:
        return (
            len(self.completed_ids) == self.n
            and len(set(self.completed_ids)) == self.n
            and set(self.completed_ids) == set(self.enqueued_ids)
            and self.db_exactly_once
        )


async def _noop(_job: Any) -> None:
    """The job: nothing, but a real await point (as a handler call would be)."""
    await asyncio.sleep(0)


async def drain(
    peer: Peer, url: str, n: int, consumers: int, batch: int, meter: CpuMeter
) -> tuple[float, list[float], list[str]]:
    """Run ``consumers`` lease→complete loops until ``n`` tasks are done.

    Returns the wall time, the lease→complete latency of every task (from the moment its
    lease call returned to the moment its completion committed) and the completed ids.
    ``meter`` runs from when every consumer is connected until the last task is done.
    """
    workers = [await peer.consumer(url, index) for index in range(consumers)]
    meter.start()
    completed: list[str] = []
    latencies: list[float] = []
    deadline = time.monotonic() + DRAIN_TIMEOUT_S

    async def loop(worker: Consumer) -> None:
        while len(completed) < n:
            jobs = await worker.lease(batch)
            leased_at = time.perf_counter()
            if not jobs:
                # Others still hold the last tasks; a lost task would spin here until
                # the deadline, which fails the run loudly instead of hanging it.
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{peer.name}: {len(completed)}/{n} done")
                await asyncio.sleep(0.005)
                continue
            for job in jobs:
                await _noop(job)
                completed.append(await worker.complete(job))
                latencies.append(time.perf_counter() - leased_at)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(loop(worker) for worker in workers))
        elapsed = time.perf_counter() - started
        # Before the consumers disconnect: a backend that is exiting may be counted
        # neither as a live child nor yet among the postmaster's reaped children.
        meter.stop()
    finally:
        for worker in workers:
            await worker.close()
    return elapsed, latencies, completed


@dataclass
class EngineConfig:
    n: int
    consumers: int
    batch: int
    enqueue_batch: int
    repeats: int
    peers: list[str] = field(default_factory=lambda: ["taskplane", "pgqueuer", "procrastinate"])


async def run_once(
    server: PostgresServer, peer: Peer, template: str, run: int, config: EngineConfig
) -> RunResult:
    """One repeat of one peer in a fresh database cloned from its template."""
    database = f"{peer.name}_run{run}"
    url = await clone(server, template, database)
    try:
        enqueued, enqueue_s = await fill(peer, url, config.n, config.enqueue_batch)
        postgres = CpuMeter({"postgresql": [server.postmaster_pid()]})
        cpu_before = time.process_time()
        process_s, latencies, completed = await drain(
            peer, url, len(enqueued), config.consumers, peer.lease_batch(config.batch), postgres
        )
        client_cpu_s = time.process_time() - cpu_before
        postgres_cpu_s = postgres.seconds["postgresql"]
        db = await peer.outcome(url, enqueued)
    finally:
        await peer.close()
        await drop(server, database)
    return RunResult(
        peer.name,
        len(enqueued),
        enqueue_s,
        process_s,
        latencies,
        completed,
        enqueued,
        db,
        db == peer.expected_outcome(len(enqueued)),
        client_cpu_s * 1e3 / max(1, len(enqueued)),
        postgres_cpu_s * 1e3 / max(1, len(enqueued)),
    )


async def run_engine(
    server: PostgresServer, config: EngineConfig, log: Callable[[str], None]
) -> dict[str, Any]:
    """Every peer ``repeats`` times, interleaved (t, p, q, t, p, q, ...) so that noise on
    this shared machine lands on all of them alike; ratios pair repeat i with repeat i."""
    if config.n % config.enqueue_batch:
        raise ValueError("n must be a multiple of the enqueue batch")
    peers = {name: PEERS[name](config.consumers + 1) for name in config.peers}
    await install_templates(server, peers)
    # One small untimed run each first: imports, statement caches, the planner.
    warmup = EngineConfig(
        n=min(config.n, 2 * config.enqueue_batch),
        consumers=config.consumers,
        batch=config.batch,
        enqueue_batch=config.enqueue_batch,
        repeats=1,
    )
    for name, peer in peers.items():
        result = await run_once(server, peer, f"template_{name}", -1, warmup)
        if not result.exactly_once:
            raise RuntimeError(f"{name}: warm-up run was not exactly once: {result.db}")
    runs: dict[str, list[RunResult]] = {name: [] for name in peers}
    for repeat in range(config.repeats):
        for name, peer in peers.items():
            result = await run_once(server, peer, f"template_{name}", repeat, config)
            runs[name].append(result)
            log(
                f"engine {name} #{repeat + 1}: enqueue {result.n / result.enqueue_s:,.0f}/s, "
                f"process {result.n / result.process_s:,.0f}/s, "
                f"exactly once: {result.exactly_once}"
            )
    out: dict[str, Any] = {"config": config.__dict__, "peers": {}}
    for name, results in runs.items():
        out["peers"][name] = {
            "lease_batch": peers[name].lease_batch(config.batch),
            "enqueue_per_s": summary([r.n / r.enqueue_s for r in results]),
            "process_per_s": summary([r.n / r.process_s for r in results]),
            "latency_p50_ms": summary([percentile(r.latencies_s, 50) * 1e3 for r in results]),
            "latency_p99_ms": summary([percentile(r.latencies_s, 99) * 1e3 for r in results]),
            "client_cpu_ms_per_task": summary([r.client_cpu_ms_per_task for r in results]),
            "postgres_cpu_ms_per_task": summary([r.postgres_cpu_ms_per_task for r in results]),
            "exactly_once": all(r.exactly_once for r in results),
            "checks": [
                {
                    "n": r.n,
                    "completed": len(r.completed_ids),
                    "unique_completed": len(set(r.completed_ids)),
                    "db": r.db,
                }
                for r in results
            ],
        }
    if "taskplane" in runs:
        base = runs["taskplane"]
        out["ratios"] = {
            f"taskplane/{name}": {
                "enqueue": ratio_summary(
                    [r.n / r.enqueue_s for r in base], [r.n / r.enqueue_s for r in results]
                ),
                "process": ratio_summary(
                    [r.n / r.process_s for r in base], [r.n / r.process_s for r in results]
                ),
            }
            for name, results in runs.items()
            if name != "taskplane"
        }
    return out
