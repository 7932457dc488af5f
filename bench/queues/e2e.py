"""taskplane end to end over HTTP: the real task-service (uvicorn) and ``taskplane-worker``s,
leasing over the streaming lease (``taskplane-http``) or HTTP requests (``taskplane-http-poll``).

The queue is paused while the tasks are enqueued through ``POST
/api/v1/queues/bench/tasks`` (batches of ``{tasks: [...]}``) and while the workers start
and long-poll; unpausing it starts the clock, which stops when the queue's
``completed_total`` reaches ``n``. So enqueue and processing are measured apart, and
worker start-up is not counted. Service and workers log at WARNING (no per-request or
per-task log lines), like a production deployment that ships only warnings. One of the
engines of :mod:`bench.queues.deployed`, measured the same way (CPU per process class too).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import adapter
from bench.cpu import CpuMeter
from bench.queues.sql import scalar
from bench.runs import DeployedConfig, run_record, wait_done
from taskplane_testing.postgres import PostgresServer, free_port
from taskplane_testing.processes import ServiceProcess

QUEUE = adapter.QUEUE
API = "/api/v1"


@dataclass
class _Popen:
    """A ``subprocess.Popen`` seen through ``returncode`` as asyncio processes are."""

    process: subprocess.Popen[bytes]

    @property
    def returncode(self) -> int | None:
        return self.process.poll()


def _start_worker(
    api_url: str, index: int, concurrency: int, logs: Path, *, stream: bool
) -> tuple[Any, int]:
    port = free_port()
    env = {**os.environ, "TASKPLANE_API_URL": api_url, "LOG_LEVEL": "WARNING"}
    log = (logs / f"worker-{index}.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "taskplane_worker",
            "--queue",
            QUEUE,
            "--handler",
            "builtin:noop",
            "--concurrency",
            str(concurrency),
            # A port of its own (not 0) only so that /healthz tells us it is up.
            "--metrics-port",
            str(port),
            "--metrics-host",
            "127.0.0.1",
            "--worker-id",
            f"bench-worker-{index}",
            "--wait",
            "5",
            *(() if stream else ("--no-stream",)),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    return process, port


async def _wait_healthy(client: httpx.AsyncClient, process: Any, port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"taskplane-worker exited early ({process.returncode})")
        try:
            if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError("taskplane-worker did not become healthy")


def _stop(process: Any) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def run_http(
    server: PostgresServer, config: DeployedConfig, repeat: int, *, stream: bool = True
) -> dict[str, Any]:
    """One run: a fresh database, the service, ``config.workers`` worker processes, on
    the streaming lease (``taskplane-http``) or with HTTP lease requests
    (``taskplane-http-poll``, the workers' ``--no-stream``)."""
    database = f"http_run{repeat}" if stream else f"http_poll_run{repeat}"
    url = server.create_database(database)
    logs = Path(tempfile.mkdtemp(prefix="taskplane-bench-http-"))
    service = ServiceProcess(
        "task_service",
        {
            "DATABASE_URL": url,
            "TASKPLANE_AUTH_DISABLED": "true",
            "TASKPLANE_LOG_LEVEL": "WARNING",
            "TASKPLANE_DB_POOL_SIZE": str(config.service_pool_size),
        },
    )
    workers: list[Any] = []
    try:
        service.start()
        async with (
            httpx.AsyncClient(base_url=service.url, timeout=60) as client,
            await psycopg.AsyncConnection.connect(url, autocommit=True) as db,
        ):
            response = await client.put(f"{API}/queues/{QUEUE}", json={"paused": True})
            response.raise_for_status()
            started_workers = [
                _start_worker(service.url, i, config.concurrency, logs, stream=stream)
                for i in range(config.workers)
            ]
            workers = [process for process, _ in started_workers]
            batches = [
                {"tasks": [{"payload": {"n": b * config.enqueue_batch + i}} for i in range(size)]}
                for b, size in enumerate(
                    [config.enqueue_batch] * (config.n // config.enqueue_batch)
                )
            ]
            started = time.perf_counter()
            for body in batches:
                (await client.post(f"{API}/queues/{QUEUE}/tasks", json=body)).raise_for_status()
            enqueue_s = time.perf_counter() - started
            for process, port in started_workers:
                await _wait_healthy(client, process, port)
            await db.execute("ANALYZE tasks.tasks")
            assert service.process is not None
            meter = CpuMeter(
                {
                    "service": [service.process.pid],
                    "workers": [process.pid for process in workers],
                    "postgresql": [server.postmaster_pid()],
                }
            )
            meter.start()
            started = time.perf_counter()
            (await client.put(f"{API}/queues/{QUEUE}", json={"paused": False})).raise_for_status()

            async def finished() -> int:
                return await scalar(db, adapter.COMPLETED_SQL)

            await wait_done(
                finished,
                config.n,
                [_Popen(p) for p in workers],
                f"taskplane-http ({service.log})",
                logs,
            )
            process_s = time.perf_counter() - started
            meter.stop()
    finally:
        for process in workers:
            _stop(process)
        service.stop()
    try:
        outcome = await adapter.outcome(url)
    finally:
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    ok = outcome == {"finished": config.n, "left": 0, "completed_events": config.n}
    return run_record(config.n, enqueue_s, process_s, meter, outcome, ok)
