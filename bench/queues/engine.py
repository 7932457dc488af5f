"""Shared loop: the queue engines' SQL side by side, through one loop that is none of theirs.

This isolates the SQL each library issues; how each is really deployed (its own worker,
batching, concurrency) is measured in :mod:`bench.queues.deployed`, which reuses the peers below
for installing, enqueueing and the exactly-once checks.

Every peer runs on the same PostgreSQL server, in its own database made fresh for each
repeat from a template that holds only its schema. One connection enqueues ``n`` tasks
in batches; then ``consumers`` asyncio tasks, each with its own connection, loop
``lease(batch) -> no-op -> complete`` with one commit per completion until all ``n``
tasks are done. The same loop (:func:`drain`) drives every peer; only the two calls
differ, and each peer uses its own library's public query layer for them:

* taskplane: ``enqueue`` / ``lease`` / ``complete`` of ``task_service.queue`` on an
  ``AsyncSession`` (:mod:`bench.adapter`), committed like the HTTP routes
  commit (a session per call).
* pgqueuer: ``Queries.enqueue`` / ``Queries.dequeue`` / ``Queries.log_jobs`` (one job per
  call; pgqueuer's own QueueManager buffers completions, which we do not do here).
* procrastinate: ``Task.batch_defer_async`` / ``JobManager.fetch_job`` /
  ``JobManager.finish_job``; procrastinate fetches one job per call, so its lease batch
  is always 1.

Exactly-once is checked twice: the ids the consumers completed (no duplicates, none
missing) and each library's own records (:meth:`Peer.outcome`).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import psycopg

from bench import adapter
from bench.adapter import TaskplaneEngine
from bench.cpu import CpuMeter
from bench.stats import percentile, ratio_summary, summary
from taskplane_testing.postgres import PostgresServer

QUEUE = adapter.QUEUE
DRAIN_TIMEOUT_S = 600.0


class Consumer(Protocol):
    async def lease(self, batch: int) -> list[Any]: ...

    async def complete(self, job: Any) -> str:
        """Finish ``job`` (one transaction); returns the job's id as text."""
        ...

    async def close(self) -> None: ...


class Peer(Protocol):
    name: str

    #: The lease batch this peer really uses (procrastinate: always 1).
    def lease_batch(self, wanted: int) -> int: ...

    async def install(self, url: str) -> None:
        """Create the peer's schema in an empty database (the template)."""
        ...

    async def enqueue(self, url: str, batches: int, batch: int) -> list[str]:
        """Enqueue ``batches * batch`` no-op tasks; returns their ids."""
        ...

    async def consumer(self, url: str, index: int) -> Consumer: ...

    async def outcome(self, url: str, ids: Sequence[str]) -> dict[str, int]:
        """What the peer's own tables say happened to the enqueued ``ids``."""
        ...

    def exactly_once(self, outcome: dict[str, int], n: int) -> bool:
        """Whether ``outcome`` shows each of ``n`` tasks run once and finished once."""
        ...

    async def finished(self, connection: psycopg.AsyncConnection[Any], n: int) -> int:
        """Cheap poll: how many of the ``n`` tasks have finished."""
        ...

    async def close(self) -> None: ...


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


# ----------------------------------------------------------------------------- taskplane


class _TaskplaneConsumer:
    def __init__(self, engine: TaskplaneEngine, index: int) -> None:
        self.engine = engine
        self.worker_id = f"bench-{index}"

    async def lease(self, batch: int) -> list[Any]:
        return list(await self.engine.lease(self.worker_id, batch))

    async def complete(self, job: Any) -> str:
        task_id, lease_id = job
        await self.engine.complete_one(self.worker_id, lease_id)
        return str(task_id)

    async def close(self) -> None:
        return None


class TaskplanePeer:
    """taskplane's queue engine, called like the HTTP routes call it (no HTTP), through
    :mod:`bench.adapter`."""

    name = "taskplane"

    def __init__(self, pool_size: int) -> None:
        self.pool_size = pool_size
        self.engines: dict[str, TaskplaneEngine] = {}

    def lease_batch(self, wanted: int) -> int:
        return wanted

    def _engine(self, url: str) -> TaskplaneEngine:
        if url not in self.engines:
            self.engines[url] = TaskplaneEngine(url, self.pool_size)
        return self.engines[url]

    async def install(self, url: str) -> None:
        await adapter.install_async(url)

    async def enqueue(self, url: str, batches: int, batch: int) -> list[str]:
        engine = self._engine(url)
        prepared = [[{"n": b * batch + i} for i in range(batch)] for b in range(batches)]
        ids: list[str] = []
        for payloads in prepared:
            ids.extend(await engine.enqueue(payloads))
        return ids

    async def consumer(self, url: str, index: int) -> Consumer:
        return _TaskplaneConsumer(self._engine(url), index)

    async def outcome(self, url: str, ids: Sequence[str]) -> dict[str, int]:
        return await adapter.outcome(url)

    def exactly_once(self, outcome: dict[str, int], n: int) -> bool:
        return outcome == {"finished": n, "left": 0, "completed_events": n}

    async def finished(self, connection: psycopg.AsyncConnection[Any], n: int) -> int:
        return await _scalar(connection, adapter.COMPLETED_SQL)

    async def close(self) -> None:
        for engine in self.engines.values():
            await engine.close()
        self.engines.clear()


# ----------------------------------------------------------------------------- pgqueuer


class _PgqueuerConsumer:
    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
        from pgqueuer import PsycopgDriver, Queries
        from pgqueuer.domain.types import QueueEntrypoint, QueueManagerId
        from pgqueuer.ports.repository import EntrypointExecutionParameter

        self.connection = connection
        self.queries = Queries(PsycopgDriver(connection))
        self.manager_id = QueueManagerId(uuid.uuid4())
        self.entrypoints = {
            QueueEntrypoint("noop"): EntrypointExecutionParameter(concurrency_limit=0)
        }

    async def lease(self, batch: int) -> list[Any]:
        return list(
            await self.queries.dequeue(
                batch_size=batch,
                entrypoints=self.entrypoints,
                queue_manager_id=self.manager_id,
                global_concurrency_limit=None,
                heartbeat_timeout=timedelta(seconds=30),
            )
        )

    async def complete(self, job: Any) -> str:
        await self.queries.log_jobs([(job, "successful", None)])
        return str(job.id)

    async def close(self) -> None:
        await self.connection.close()


class PgqueuerPeer:
    name = "pgqueuer"

    def lease_batch(self, wanted: int) -> int:
        return wanted

    async def _queries(self, url: str) -> tuple[Any, psycopg.AsyncConnection[Any]]:
        from pgqueuer import PsycopgDriver, Queries

        connection = await psycopg.AsyncConnection.connect(url, autocommit=True)
        return Queries(PsycopgDriver(connection)), connection

    async def install(self, url: str) -> None:
        queries, connection = await self._queries(url)
        try:
            await queries.install()
        finally:
            await connection.close()

    async def enqueue(self, url: str, batches: int, batch: int) -> list[str]:
        queries, connection = await self._queries(url)
        prepared = [
            (
                ["noop"] * batch,
                [json.dumps({"n": b * batch + i}).encode() for i in range(batch)],
                [0] * batch,
            )
            for b in range(batches)
        ]
        ids: list[str] = []
        try:
            for entrypoints, payloads, priorities in prepared:
                ids.extend(str(i) for i in await queries.enqueue(entrypoints, payloads, priorities))
        finally:
            await connection.close()
        return ids

    async def consumer(self, url: str, index: int) -> Consumer:
        connection = await psycopg.AsyncConnection.connect(url, autocommit=True)
        return _PgqueuerConsumer(connection)

    async def outcome(self, url: str, ids: Sequence[str]) -> dict[str, int]:
        """From pgqueuer's own log: every job picked once and logged successful once."""
        row = await _fetchone(
            url,
            "SELECT count(*) FILTER (WHERE status = 'successful'),"
            " count(DISTINCT job_id) FILTER (WHERE status = 'successful'"
            "  AND job_id = ANY(%s::bigint[])),"
            " count(*) FILTER (WHERE status = 'picked'),"
            " count(DISTINCT job_id) FILTER (WHERE status = 'picked'),"
            " (SELECT count(*) FROM pgqueuer)"
            " FROM pgqueuer_log",
            ([int(i) for i in ids],),
        )
        names = ("successful", "successful_ours", "picked", "picked_jobs", "left")
        return dict(zip(names, (int(v) for v in row), strict=True))

    def exactly_once(self, outcome: dict[str, int], n: int) -> bool:
        return outcome == {
            "successful": n,
            "successful_ours": n,
            "picked": n,
            "picked_jobs": n,
            "left": 0,
        }

    async def finished(self, connection: psycopg.AsyncConnection[Any], n: int) -> int:
        return n - await _scalar(connection, "SELECT count(*) FROM pgqueuer")

    async def close(self) -> None:
        return None


# ----------------------------------------------------------------------------- procrastinate


class _ProcrastinateConsumer:
    def __init__(self, app: Any, worker_id: int) -> None:
        self.app = app
        self.worker_id = worker_id

    async def lease(self, batch: int) -> list[Any]:
        job = await self.app.job_manager.fetch_job([QUEUE], self.worker_id)
        return [] if job is None else [job]

    async def complete(self, job: Any) -> str:
        from procrastinate.jobs import Status

        await self.app.job_manager.finish_job(job, Status.SUCCEEDED, delete_job=False)
        return str(job.id)

    async def close(self) -> None:
        await self.app.job_manager.unregister_worker(self.worker_id)


class ProcrastinatePeer:
    name = "procrastinate"

    def __init__(self, pool_size: int) -> None:
        self.pool_size = pool_size
        self.apps: dict[str, Any] = {}

    def lease_batch(self, wanted: int) -> int:
        return 1  # JobManager.fetch_job claims one job per call

    async def _app(self, url: str) -> Any:
        import procrastinate

        if url not in self.apps:
            app = procrastinate.App(
                connector=procrastinate.PsycopgConnector(
                    conninfo=url, min_size=1, max_size=self.pool_size
                )
            )

            @app.task(name="noop", queue=QUEUE)
            async def noop(**_: Any) -> None:
                return None

            await app.open_async()
            self.apps[url] = app
        return self.apps[url]

    async def install(self, url: str) -> None:
        app = await self._app(url)
        await app.schema_manager.apply_schema_async()
        await self._close(url)

    async def enqueue(self, url: str, batches: int, batch: int) -> list[str]:
        app = await self._app(url)
        task = app.tasks["noop"]
        prepared = [[{"n": b * batch + i} for i in range(batch)] for b in range(batches)]
        ids: list[str] = []
        for kwargs in prepared:
            ids.extend(str(i) for i in await task.batch_defer_async(*kwargs))
        return ids

    async def consumer(self, url: str, index: int) -> Consumer:
        app = await self._app(url)
        return _ProcrastinateConsumer(app, await app.job_manager.register_worker())

    async def outcome(self, url: str, ids: Sequence[str]) -> dict[str, int]:
        """From procrastinate's own tables: jobs succeeded, and each started once."""
        row = await _fetchone(
            url,
            "SELECT count(*) FILTER (WHERE status = 'succeeded' AND id = ANY(%s::bigint[])),"
            " count(*) FILTER (WHERE status <> 'succeeded'),"
            " (SELECT count(*) FROM procrastinate_events WHERE type = 'started'),"
            " (SELECT count(DISTINCT job_id) FROM procrastinate_events WHERE type = 'started')"
            " FROM procrastinate_jobs",
            ([int(i) for i in ids],),
        )
        names = ("succeeded", "left", "started", "started_jobs")
        return dict(zip(names, (int(v) for v in row), strict=True))

    def exactly_once(self, outcome: dict[str, int], n: int) -> bool:
        return outcome == {"succeeded": n, "left": 0, "started": n, "started_jobs": n}

    async def finished(self, connection: psycopg.AsyncConnection[Any], n: int) -> int:
        unfinished = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        return n - await _scalar(connection, unfinished)

    async def _close(self, url: str) -> None:
        app = self.apps.pop(url, None)
        if app is not None:
            await app.close_async()

    async def close(self) -> None:
        for url in list(self.apps):
            await self._close(url)


# ----------------------------------------------------------------------------- harness


async def _scalar(connection: psycopg.AsyncConnection[Any], sql: str) -> int:
    row = await (await connection.execute(sql)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


async def _fetchone(url: str, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        row = await (await connection.execute(sql, params)).fetchone()
    assert row is not None
    return tuple(row)


async def _admin(server: PostgresServer, sql: str) -> None:
    async with await psycopg.AsyncConnection.connect(server.url(), autocommit=True) as connection:
        await connection.execute(sql)


async def _analyze(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await connection.execute("ANALYZE")


@dataclass
class EngineConfig:
    n: int
    consumers: int
    batch: int
    enqueue_batch: int
    repeats: int
    peers: list[str] = field(default_factory=lambda: ["taskplane", "pgqueuer", "procrastinate"])


PEERS: dict[str, Callable[[EngineConfig], Peer]] = {
    "taskplane": lambda c: TaskplanePeer(pool_size=c.consumers + 1),
    "pgqueuer": lambda c: PgqueuerPeer(),
    "procrastinate": lambda c: ProcrastinatePeer(pool_size=c.consumers + 1),
}


async def clone(server: PostgresServer, template: str, database: str) -> str:
    """A fresh database holding only what ``template`` holds; returns its URL."""
    await drop(server, database)
    await _admin(server, f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
    return server.url(database)


async def drop(server: PostgresServer, database: str) -> None:
    await _admin(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def install_templates(server: PostgresServer, peers: dict[str, Peer]) -> None:
    """One template database per peer, holding its schema (``template_<name>``)."""
    for name, peer in peers.items():
        template = f"template_{name}"
        await drop(server, template)
        await _admin(server, f'CREATE DATABASE "{template}"')
        await peer.install(server.url(template))
        await peer.close()


async def fill(peer: Peer, url: str, n: int, enqueue_batch: int) -> tuple[list[str], float]:
    """Enqueue ``n`` no-op tasks in batches from one connection, then ``ANALYZE``.

    Returns the ids and the enqueue time. Every peer gets fresh statistics alike
    (autovacuum would do it soon anyway).
    """
    started = time.perf_counter()
    enqueued = await peer.enqueue(url, n // enqueue_batch, enqueue_batch)
    enqueue_s = time.perf_counter() - started
    await _analyze(url)
    return enqueued, enqueue_s


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
        peer.exactly_once(db, len(enqueued)),
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
    peers = {name: PEERS[name](config) for name in config.peers}
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
