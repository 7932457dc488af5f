"""The queue libraries the bench compares, each behind one small interface (:class:`Peer`).

A peer installs its schema, enqueues no-op tasks with its own batch enqueue, hands out
consumers for the shared loop (:mod:`bench.queues.shared_loop`), and reads back from its
own tables what happened to the tasks (the exactly-once check of every section):

* taskplane: ``enqueue`` / ``lease`` / ``complete`` of ``task_service.queue`` through
  :mod:`bench.adapter` (a psycopg pool in autocommit, as the HTTP routes call it).
* pgqueuer: ``Queries.enqueue`` / ``Queries.dequeue`` / ``Queries.log_jobs`` (one job per
  call; pgqueuer's own QueueManager buffers completions, which the shared loop does not).
* procrastinate: ``Task.batch_defer_async`` / ``JobManager.fetch_job`` /
  ``JobManager.finish_job``; procrastinate fetches one job per call, so its lease batch
  is always 1.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol

import psycopg

from bench import adapter
from bench.adapter import TaskplaneEngine
from bench.queues.sql import counts, scalar

QUEUE = adapter.QUEUE


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

    def expected_outcome(self, n: int) -> dict[str, int]:
        """What ``outcome`` reads when each of ``n`` tasks ran once and finished once."""
        ...

    async def finished(self, connection: psycopg.AsyncConnection[Any], n: int) -> int:
        """Cheap poll: how many of the ``n`` tasks have finished."""
        ...

    async def close(self) -> None: ...


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

    def expected_outcome(self, n: int) -> dict[str, int]:
        return {"finished": n, "left": 0, "completed_events": n}

    async def finished(self, connection: psycopg.AsyncConnection[Any], n: int) -> int:
        return await scalar(connection, adapter.COMPLETED_SQL)

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
    """pgqueuer; ``name`` picks how its worker runs (``bench.queues.runner``)."""

    def __init__(self, name: str = "pgqueuer") -> None:
        self.name = name

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
        names = ("successful", "successful_ours", "picked", "picked_jobs", "left")
        return await counts(
            url,
            names,
            "SELECT count(*) FILTER (WHERE status = 'successful'),"
            " count(DISTINCT job_id) FILTER (WHERE status = 'successful'"
            "  AND job_id = ANY(%s::bigint[])),"
            " count(*) FILTER (WHERE status = 'picked'),"
            " count(DISTINCT job_id) FILTER (WHERE status = 'picked'),"
            " (SELECT count(*) FROM pgqueuer)"
            " FROM pgqueuer_log",
            ids,
        )

    def expected_outcome(self, n: int) -> dict[str, int]:
        return {
            "successful": n,
            "successful_ours": n,
            "picked": n,
            "picked_jobs": n,
            "left": 0,
        }

    async def finished(self, connection: psycopg.AsyncConnection[Any], n: int) -> int:
        return n - await scalar(connection, "SELECT count(*) FROM pgqueuer")

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
        names = ("succeeded", "left", "started", "started_jobs")
        return await counts(
            url,
            names,
            "SELECT count(*) FILTER (WHERE status = 'succeeded' AND id = ANY(%s::bigint[])),"
            " count(*) FILTER (WHERE status <> 'succeeded'),"
            " (SELECT count(*) FROM procrastinate_events WHERE type = 'started'),"
            " (SELECT count(DISTINCT job_id) FROM procrastinate_events WHERE type = 'started')"
            " FROM procrastinate_jobs",
            ids,
        )

    def expected_outcome(self, n: int) -> dict[str, int]:
        return {"succeeded": n, "left": 0, "started": n, "started_jobs": n}

    async def finished(self, connection: psycopg.AsyncConnection[Any], n: int) -> int:
        unfinished = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        return n - await scalar(connection, unfinished)

    async def _close(self, url: str) -> None:
        app = self.apps.pop(url, None)
        if app is not None:
            await app.close_async()

    async def close(self) -> None:
        for url in list(self.apps):
            await self._close(url)


#: Each peer by name, given the size of the connection pool its consumers share.
PEERS: dict[str, Callable[[int], Peer]] = {
    "taskplane": lambda pool_size: TaskplanePeer(pool_size),
    "pgqueuer": lambda pool_size: PgqueuerPeer(),
    "pgqueuer-uncapped": lambda pool_size: PgqueuerPeer("pgqueuer-uncapped"),
    "procrastinate": lambda pool_size: ProcrastinatePeer(pool_size),
}
