"""As deployed: each engine run the way its users run it, in worker processes.

``workers`` processes × ``concurrency`` each, the same for every engine:

* ``taskplane-http``: the real task-service (uvicorn) and real ``taskplane-worker``
  processes, over HTTP (:mod:`bench.queues.e2e`): what a taskplane user gets, on the
  streaming lease; ``taskplane-http-poll`` the same with HTTP lease requests.
* ``taskplane``: taskplane's engine called in-process by a worker loop shaped like
  ``taskplane-worker``'s (:class:`bench.queues.runner.TaskplaneDirectWorker`): the engine's own
  ceiling, without the service and HTTP.
* ``pgqueuer``: its ``PgQueuer`` on asyncpg under uvloop, ``max_concurrent_tasks`` =
  concurrency (the same in-flight limit), ``batch_size`` half of it,
  its completion log buffered (:func:`bench.queues.runner.run_pgqueuer`);
  ``pgqueuer-uncapped`` (not in the default list): batches of ``concurrency``, no cap, as
  the bench ran it before.
* ``procrastinate``: its own worker with that concurrency
  (:func:`bench.queues.runner.run_procrastinate`).

Each run gets a fresh database cloned from the engine's template; the bench process
enqueues ``n`` no-op tasks with the library's own batch enqueue, starts the workers,
waits until every one has connected, then says go and stops the clock when the
library's own tables show every task finished. CPU seconds of the worker processes, the
service and the whole PostgreSQL server (postmaster and every child: backends,
autovacuum, WAL writer, checkpointer) are measured over that window. Exactly-once is
checked from each library's own records (:meth:`bench.queues.peers.Peer.outcome`).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.cpu import CpuMeter
from bench.queues.databases import clone, drop, fill, install_templates
from bench.queues.e2e import run_http
from bench.queues.peers import PEERS, Peer
from bench.runs import DeployedConfig, Log, run_record, wait_done
from bench.stats import ratio_summary, summary
from taskplane_testing.postgres import PostgresServer

ENGINES = (
    "taskplane",
    "taskplane-http",
    "taskplane-http-poll",
    "pgqueuer",
    "pgqueuer-uncapped",
    "procrastinate",
)


async def start_runner(
    name: str, url: str, index: int, concurrency: int, logs: Path, *options: str
) -> Any:
    """``python -m bench.queues.runner`` for one engine (``options``: more of its flags)."""
    with (logs / f"{name}-{index}.log").open("wb") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.queues.runner",
            name,
            url,
            str(concurrency),
            "--worker-id",
            f"bench-worker-{index}",
            *options,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )


async def until_ready(process: Any, logs: Path) -> None:
    while True:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=120)
        if not line:
            raise RuntimeError(f"a bench runner exited before it was ready; logs in {logs}")
        if line.strip() == b"ready":
            return


async def stop_runner(process: Any) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def run_processes(
    server: PostgresServer, peer: Peer, config: DeployedConfig, repeat: int
) -> dict[str, Any]:
    """One run of a library's own workers (``bench.queues.runner``) in a fresh database."""
    database = f"deployed_{peer.name}_{repeat}"
    url = await clone(server, f"template_{peer.name}", database)
    logs = Path(tempfile.mkdtemp(prefix=f"taskplane-bench-{peer.name}-"))
    processes: list[Any] = []
    try:
        ids, enqueue_s = await fill(peer, url, config.n, config.enqueue_batch)
        await peer.close()
        processes = [
            await start_runner(peer.name, url, index, config.concurrency, logs)
            for index in range(config.workers)
        ]
        for process in processes:
            await until_ready(process, logs)
        meter = CpuMeter(
            {
                "workers": [p.pid for p in processes],
                "postgresql": [server.postmaster_pid()],
            }
        )
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as poll:
            meter.start()
            started = time.perf_counter()
            for process in processes:
                process.stdin.write(b"go\n")
                await process.stdin.drain()
            await wait_done(
                lambda: peer.finished(poll, len(ids)), len(ids), processes, peer.name, logs
            )
            process_s = time.perf_counter() - started
            meter.stop()
    finally:
        await asyncio.gather(*(stop_runner(p) for p in processes))
    try:
        outcome = await peer.outcome(url, ids)
    finally:
        await drop(server, database)
    return run_record(
        len(ids), enqueue_s, process_s, meter, outcome, outcome == peer.expected_outcome(len(ids))
    )


def _summaries(runs: list[dict[str, Any]]) -> dict[str, Any]:
    classes = sorted({name for run in runs for name in run["cpu_ms_per_task"]})
    return {
        "enqueue_per_s": summary([r["n"] / r["enqueue_s"] for r in runs]),
        "process_per_s": summary([r["n"] / r["process_s"] for r in runs]),
        "cpu_ms_per_task": {
            name: summary([r["cpu_ms_per_task"].get(name, 0.0) for r in runs]) for name in classes
        },
        "exactly_once": all(r["exactly_once"] for r in runs),
        "checks": runs,
    }


def _ratios(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Paired repeats of each taskplane variant against each peer; > 1: taskplane faster."""
    ratios: dict[str, Any] = {}
    for ours in ("taskplane", "taskplane-http", "taskplane-http-poll"):
        for peer in ("pgqueuer", "pgqueuer-uncapped", "procrastinate"):
            if ours in runs and peer in runs:
                ratios[f"{ours}/{peer}"] = {
                    key: ratio_summary(
                        [r["n"] / r[f"{key}_s"] for r in runs[ours]],
                        [r["n"] / r[f"{key}_s"] for r in runs[peer]],
                    )
                    for key in ("enqueue", "process")
                }
    return ratios


async def run_deployed(server: PostgresServer, config: DeployedConfig, log: Log) -> dict[str, Any]:
    """Every engine ``repeats`` times, interleaved, on this one server."""
    if config.n % config.enqueue_batch:
        raise ValueError("n must be a multiple of the enqueue batch")
    # The bench process only installs and enqueues: a connection or two is enough.
    peers = {name: PEERS[name](2) for name in config.engines if name in PEERS}
    await install_templates(server, peers)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in config.engines}
    for repeat in range(config.repeats):
        for name in config.engines:
            if name.startswith("taskplane-http"):
                result = await run_http(server, config, repeat, stream=name == "taskplane-http")
            else:
                result = await run_processes(server, peers[name], config, repeat)
            runs[name].append(result)
            cpu = ", ".join(f"{k} {v:.2f}" for k, v in result["cpu_ms_per_task"].items())
            rates = f"enqueue {result['n'] / result['enqueue_s']:,.0f}/s, " + (
                f"process {result['n'] / result['process_s']:,.0f}/s"
            )
            log(
                f"deployed {name} #{repeat + 1}: {rates}, CPU ms/task: {cpu}, "
                f"exactly once: {result['exactly_once']}"
            )
    return {
        "config": config.__dict__,
        "engines": {name: _summaries(results) for name, results in runs.items()},
        "ratios": _ratios(runs),
    }
