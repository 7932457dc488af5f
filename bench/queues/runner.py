"""One worker process of an "as deployed" run: ``python -m bench.queues.runner ENGINE URL C``.

Each engine runs its own way, with the same in-flight limit C where it has one:
pgqueuer's ``PgQueuer`` on an asyncpg connection under uvloop (what ``pgq run`` does),
``max_concurrent_tasks`` C and ``batch_size`` C / 2 (pgqueuer requires at least twice the
batch size as the cap), its completion log buffered and flushed in batches;
procrastinate's own worker (``App.run_worker_async``) with concurrency C on its psycopg
pool; taskplane's engine called directly by a loop shaped like
``taskplane-worker``'s (lease up to the free slots, run the no-ops concurrently, complete
whatever finished meanwhile in one ``complete_many``). The job is a no-op in each.

The process sets itself up (imports, connections), prints ``ready`` and waits for a line
on stdin before it starts working, so start-up is not timed; SIGTERM stops it. With
``--stamps FILE`` (pgqueuer and taskplane) each job first appends the time it started
(:mod:`bench.queues.stamps`), for the latency measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable
from typing import Any

from bench.adapter import QUEUE, Leased, TaskplaneEngine
from bench.queues.stamps import stamp


async def ready_then_go() -> None:
    """Say we are set up, then block until the benchmark says go."""
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)


def stop_on_sigterm(stop: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)


async def run_pgqueuer(url: str, concurrency: int, stamps: str | None, capped: bool) -> None:
    import asyncpg
    from pgqueuer import PgQueuer
    from pgqueuer.models import Job

    pgq = PgQueuer.from_asyncpg_connection(await asyncpg.connect(url))

    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        if stamps:
            stamp(stamps)

    await ready_then_go()
    stop_on_sigterm(pgq.shutdown.set)
    if capped:
        await pgq.run(batch_size=max(1, concurrency // 2), max_concurrent_tasks=concurrency)
    else:  # how the bench ran it before 2026-12-07: batches of C, no in-flight cap
        await pgq.run(batch_size=concurrency)


async def run_procrastinate(url: str, concurrency: int) -> None:
    import procrastinate

    app = procrastinate.App(
        # A job holds a connection while it is fetched and finished: one per slot.
        connector=procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=concurrency + 1)
    )

    @app.task(name="noop", queue=QUEUE)
    async def noop(**_: Any) -> None:
        return None

    async with app.open_async():
        await app.job_manager.check_connection_async()
        await ready_then_go()
        # Its own signal handlers stop it on SIGTERM, waiting for running jobs.
        await app.run_worker_async(queues=[QUEUE], concurrency=concurrency, wait=True)


class TaskplaneDirectWorker:
    """``taskplane-worker``'s loop without HTTP: the engine is called in-process."""

    def __init__(self, url: str, concurrency: int, worker_id: str, stamps: str | None) -> None:
        self.engine = TaskplaneEngine(url, pool_size=3)
        self.stamps = stamps
        self.concurrency = concurrency
        self.worker_id = worker_id
        self.running = 0
        self.finished: list[Leased] = []
        self.completer: asyncio.Task[None] | None = None
        self.slot_freed = asyncio.Event()
        self.stopping = asyncio.Event()

    async def _task(self, task: Leased) -> None:
        if self.stamps:
            stamp(self.stamps)
        await asyncio.sleep(0)  # the no-op handler
        self.finished.append(task)
        if self.completer is None or self.completer.done():
            self.completer = asyncio.create_task(self._complete())

    async def _complete(self) -> None:
        """Complete every task finished so far in one call; again for those that finish
        while it runs (no timer: a lone completion goes at once)."""
        while self.finished:
            batch, self.finished = self.finished, []
            await self.engine.complete_many(self.worker_id, [lease for _, lease in batch])
            self.running -= len(batch)
            self.slot_freed.set()

    async def run(self) -> None:
        background: set[asyncio.Task[None]] = set()
        while not self.stopping.is_set():
            free = self.concurrency - self.running
            if free <= 0:
                self.slot_freed.clear()
                await self.slot_freed.wait()
                continue
            leased = await self.engine.lease(self.worker_id, free)
            if not leased:
                await asyncio.sleep(0.01)
                continue
            self.running += len(leased)
            for task in leased:
                job = asyncio.create_task(self._task(task))
                background.add(job)
                job.add_done_callback(background.discard)
        if background:
            await asyncio.gather(*background)
        if self.completer is not None:
            await self.completer
        await self.engine.close()


async def run_taskplane(url: str, concurrency: int, worker_id: str, stamps: str | None) -> None:
    worker = TaskplaneDirectWorker(url, concurrency, worker_id, stamps)
    await worker.engine.connect()  # before the clock, as the other engines do
    await ready_then_go()
    stop_on_sigterm(worker.stopping.set)
    worker.slot_freed.set()
    await worker.run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.queues.runner", description=__doc__)
    parser.add_argument(
        "engine", choices=["taskplane", "pgqueuer", "pgqueuer-uncapped", "procrastinate"]
    )
    parser.add_argument("url")
    parser.add_argument("concurrency", type=int)
    parser.add_argument("--worker-id", default="bench-worker")
    parser.add_argument("--stamps", help="append each job's start time to this file")
    args = parser.parse_args(argv)
    if args.engine.startswith("pgqueuer"):
        import uvloop

        capped = args.engine == "pgqueuer"
        uvloop.run(run_pgqueuer(args.url, args.concurrency, args.stamps, capped))
    elif args.engine == "procrastinate":
        asyncio.run(run_procrastinate(args.url, args.concurrency))
    else:
        asyncio.run(run_taskplane(args.url, args.concurrency, args.worker_id, args.stamps))


if __name__ == "__main__":
    main()
