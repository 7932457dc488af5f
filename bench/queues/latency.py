"""Latency: one task enqueued into an idle queue until its handler starts on an idle worker.

Per engine, one worker process (the as-deployed concurrency) waits, idle, the way that
engine waits when there is nothing to do; the bench enqueues one task with the library's
own enqueue call, on a connection it keeps open, and takes ``time.monotonic()`` just before
the call; the handler appends the time it starts (:mod:`bench.queues.stamps`; one clock for
every process of the machine). The difference is one sample. ``warmup`` samples first (not
counted: imports, the worker's first connection, statement caches); then ``samples``,
``gap_s`` apart so each task's completion has been reported and the worker is idle again.

* ``taskplane-http``: ``POST /api/v1/queues/bench/tasks`` to the task-service; one
  ``taskplane-worker`` waiting on its default lease path, which the service wakes when
  the queue becomes non-empty. What a platform user gets.
* ``pgqueuer``: ``Queries.enqueue``; ``PgQueuer`` is woken through its ``LISTEN`` channel.
* ``taskplane``: the engine's enqueue called in-process; the direct worker loop
  (:class:`bench.queues.runner.TaskplaneDirectWorker`) has no long-poll and leases again
  every 10 ms while idle, so its figure includes up to that poll interval.

Every task must run once (one stamp each) and be finished once by the library's own
records, or the run fails like the other sections.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import psycopg

from bench import adapter
from bench.adapter import TaskplaneEngine
from bench.queues import stamps
from bench.queues.databases import clone, drop, install_templates
from bench.queues.deployed import start_runner, stop_runner, until_ready
from bench.queues.peers import PEERS, Peer
from bench.queues.sql import scalar
from bench.runs import Exited, Log, wait_done
from bench.stats import percentile
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import ServiceProcess

ENGINES = ("taskplane-http", "pgqueuer", "taskplane")
QUEUE = adapter.QUEUE
#: A sample whose handler has not started by then fails the run (a lost task).
SAMPLE_TIMEOUT_S = 120.0


@dataclass
class LatencyConfig:
    samples: int
    warmup: int
    concurrency: int
    engines: list[str] = field(default_factory=lambda: list(ENGINES))
    gap_s: float = 0.25


class Enqueuer(Protocol):
    async def one(self, n: int) -> str:
        """Enqueue one task; its id."""
        ...

    async def close(self) -> None: ...


class _HttpEnqueuer:
    def __init__(self, url: str) -> None:
        self.client = httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=60)

    async def one(self, n: int) -> str:
        response = await self.client.post(f"/queues/{QUEUE}/tasks", json={"payload": {"n": n}})
        response.raise_for_status()
        return str(response.json()["id"])

    async def close(self) -> None:
        await self.client.aclose()


class _EngineEnqueuer:
    def __init__(self, url: str) -> None:
        self.engine = TaskplaneEngine(url, pool_size=1)

    async def one(self, n: int) -> str:
        return (await self.engine.enqueue([{"n": n}]))[0]

    async def close(self) -> None:
        await self.engine.close()


class _PgqueuerEnqueuer:
    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
        from pgqueuer import PsycopgDriver, Queries

        self.connection = connection
        self.queries = Queries(PsycopgDriver(connection))

    async def one(self, n: int) -> str:
        ids = await self.queries.enqueue(["noop"], [json.dumps({"n": n}).encode()], [0])
        return str(ids[0])

    async def close(self) -> None:
        await self.connection.close()


async def _enqueuer(engine: str, url: str) -> Enqueuer:
    if engine == "pgqueuer":
        return _PgqueuerEnqueuer(await psycopg.AsyncConnection.connect(url, autocommit=True))
    enqueuer = _EngineEnqueuer(url)
    await enqueuer.engine.connect()
    return enqueuer


async def _measure(
    enqueuer: Enqueuer,
    path: Path,
    config: LatencyConfig,
    processes: Sequence[Exited],
    go: Callable[[], Awaitable[None]] | None = None,
) -> tuple[list[float], list[float], list[str]]:
    """Every sample in turn: the latencies and how long the enqueue call itself took
    (seconds, after the warm-up), and every id.

    ``go`` runs once the first (warm-up) task is in: the direct loop, like
    ``taskplane-worker``, needs its queue to exist, and the first enqueue creates it.
    """
    latencies: list[float] = []
    calls: list[float] = []
    ids: list[str] = []
    for index in range(config.warmup + config.samples):
        started = time.monotonic()
        ids.append(await enqueuer.one(index))
        returned = time.monotonic()
        if go is not None and index == 0:
            await go()
        await asyncio.sleep(config.gap_s)
        while len(seen := stamps.read(path)) <= index:
            if time.monotonic() - started > SAMPLE_TIMEOUT_S:
                raise TimeoutError(f"sample {index}: the handler never started ({path})")
            if any(p.returncode is not None for p in processes):
                raise RuntimeError(f"sample {index}: the worker exited ({path.parent})")
            await asyncio.sleep(0.01)
        if index >= config.warmup:
            latencies.append(seen[index] - started)
            calls.append(returned - started)
    return latencies, calls, ids


@dataclass
class Measured:
    """One engine's samples (seconds), the ids of its tasks, where its handler stamped,
    and its database."""

    latencies: list[float]
    calls: list[float]
    ids: list[str]
    path: Path
    url: str


def _record(measured: Measured, outcome: dict[str, int], ok: bool) -> dict[str, Any]:
    samples_ms = [value * 1e3 for value in measured.latencies]
    return {
        "samples_ms": samples_ms,
        "enqueue_call_p50_ms": percentile([value * 1e3 for value in measured.calls], 50),
        "p50_ms": percentile(samples_ms, 50),
        "p99_ms": percentile(samples_ms, 99),
        "min_ms": min(samples_ms),
        "max_ms": max(samples_ms),
        "handler_runs": len(stamps.read(measured.path)),
        "outcome": outcome,
        "exactly_once": ok,
    }


async def _finish(
    peer: Peer,
    url: str,
    finished: Callable[[psycopg.AsyncConnection[Any]], Awaitable[int]],
    total: int,
    processes: Sequence[Exited],
    logs: Path,
) -> None:
    """Wait until the library's own tables show every sample's task finished."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as poll:
        await wait_done(lambda: finished(poll), total, processes, f"latency {peer.name}", logs)


async def _runner_engine(server: PostgresServer, peer: Peer, config: LatencyConfig) -> Measured:
    """pgqueuer or the direct engine: one ``bench.queues.runner`` process, idle."""
    database = f"latency_{peer.name}"
    url = await clone(server, f"template_{peer.name}", database)
    logs = Path(tempfile.mkdtemp(prefix=f"taskplane-latency-{peer.name}-"))
    path = logs / "stamps.txt"
    process = await start_runner(peer.name, url, 0, config.concurrency, logs, "--stamps", str(path))

    async def go() -> None:
        process.stdin.write(b"go\n")
        await process.stdin.drain()

    try:
        await until_ready(process, logs)
        enqueuer = await _enqueuer(peer.name, url)
        try:
            latencies, calls, ids = await _measure(enqueuer, path, config, [process], go)
        finally:
            await enqueuer.close()
        total = len(ids)
        await _finish(peer, url, lambda poll: peer.finished(poll, total), total, [process], logs)
    finally:
        await stop_runner(process)
    return Measured(latencies, calls, ids, path, url)


async def _http_engine(server: PostgresServer, peer: Peer, config: LatencyConfig) -> Measured:
    """The task-service and one ``taskplane-worker`` running the stamping handler."""
    url = server.create_database("latency_http")
    logs = Path(tempfile.mkdtemp(prefix="taskplane-latency-http-"))
    path = logs / "stamps.txt"
    quiet = {"TASKPLANE_LOG_LEVEL": "WARNING", "TASKPLANE_AUTH_DISABLED": "true"}
    service = ServiceProcess("task_service", {"DATABASE_URL": url, **quiet}).start()
    worker: Any = None
    try:
        enqueuer = _HttpEnqueuer(service.url)
        try:
            created = await enqueuer.client.put(f"/queues/{QUEUE}", json={"paused": False})
            created.raise_for_status()
            options = {
                "--queue": QUEUE,
                "--handler": "python:bench.queues.stamps:handler",
                "--concurrency": str(config.concurrency),
                "--worker-id": "latency-worker",
                "--metrics-port": "0",
                "--wait": "5",
            }
            env = {**os.environ, "TASKPLANE_API_URL": service.url, "LOG_LEVEL": "WARNING"}
            with (logs / "worker.log").open("wb") as log:
                worker = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "taskplane_worker",
                    *(arg for option in options.items() for arg in option),
                    env={**env, stamps.STAMPS_ENV: str(path)},
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                )
            latencies, calls, ids = await _measure(enqueuer, path, config, [worker])
        finally:
            await enqueuer.close()
        total = len(ids)

        async def finished(poll: psycopg.AsyncConnection[Any]) -> int:
            return await scalar(poll, adapter.COMPLETED_SQL)

        await _finish(peer, url, finished, total, [worker], logs)
    finally:
        if worker is not None:
            await stop_runner(worker)
        service.stop()
    return Measured(latencies, calls, ids, path, url)


async def run_latency(server: PostgresServer, config: LatencyConfig, log: Log) -> dict[str, Any]:
    """Each engine of ``config.engines`` that has a latency measurement, in turn."""
    engines = [name for name in config.engines if name in ENGINES]
    peers = {name: PEERS[name](2) for name in ("taskplane", "pgqueuer")}
    await install_templates(server, peers)
    results: dict[str, Any] = {}
    for name in engines:
        peer = peers["taskplane" if name == "taskplane-http" else name]
        measure = _http_engine if name == "taskplane-http" else _runner_engine
        measured = await measure(server, peer, config)
        total = len(measured.ids)
        try:
            outcome = await peer.outcome(measured.url, measured.ids)
        finally:
            await drop(server, measured.url.rsplit("/", 1)[1])
        ok = len(stamps.read(measured.path)) == total and outcome == peer.expected_outcome(total)
        result = results[name] = _record(measured, outcome, ok)
        log(
            f"latency {name}: p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms "
            f"over {len(result['samples_ms'])} samples, exactly once: {ok}"
        )
    return {"config": asdict(config), "engines": results}
