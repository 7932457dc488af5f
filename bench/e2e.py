"""End to end over HTTP: the real task-service (uvicorn) and real ``taskplane-worker``s.

The queue is paused while the tasks are enqueued through ``POST
/api/v1/queues/bench/tasks`` (batches of ``{tasks: [...]}``) and while the workers start
and long-poll; unpausing it starts the clock, which stops when the queue's
``completed_total`` reaches ``n``. So enqueue and processing are measured apart, and
worker start-up is not counted. Service and workers log at WARNING (no per-request or
per-task log lines), like a production deployment that ships only warnings.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.stats import summary
from taskplane_common.testing.postgres import PostgresServer, free_port
from taskplane_common.testing.processes import ServiceProcess

QUEUE = "bench"
API = "/api/v1"


@dataclass
class HttpConfig:
    n: int
    workers: int
    concurrency: int
    enqueue_batch: int
    repeats: int
    service_pool_size: int = 20


def _start_worker(api_url: str, index: int, concurrency: int, logs: Path) -> tuple[Any, int]:
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


async def _scalar(connection: psycopg.AsyncConnection[Any], sql: str) -> int:
    row = await (await connection.execute(sql)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


async def _one_run(
    server: PostgresServer, config: HttpConfig, repeat: int, log: Callable[[str], None]
) -> dict[str, Any]:
    database = f"http_run{repeat}"
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
                _start_worker(service.url, i, config.concurrency, logs)
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
            counted = "SELECT sum(completed_total) FROM tasks.queue_counters WHERE queue = 'bench'"
            deadline = time.monotonic() + 600
            started = time.perf_counter()
            (await client.put(f"{API}/queues/{QUEUE}", json={"paused": False})).raise_for_status()
            while await _scalar(db, counted) < config.n:
                if time.monotonic() > deadline:
                    raise TimeoutError("the workers did not finish in 600 s")
                if any(process.poll() is not None for process in workers):
                    raise RuntimeError(f"a worker exited; logs in {logs}")
                await asyncio.sleep(0.02)
            process_s = time.perf_counter() - started
            completed_once = await _scalar(
                db,
                "SELECT count(*) FROM tasks.tasks WHERE queue = 'bench'"
                " AND status = 'completed' AND attempts = 1",
            )
            not_done = await _scalar(
                db,
                "SELECT count(*) FROM tasks.tasks WHERE queue = 'bench' AND status <> 'completed'",
            )
            completed_events = await _scalar(
                db, "SELECT count(*) FROM tasks.events WHERE type = 'task.completed'"
            )
    finally:
        for process in workers:
            _stop(process)
        service.stop()
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    result = {
        "n": config.n,
        "enqueue_s": enqueue_s,
        "process_s": process_s,
        "completed_once": completed_once,
        "not_completed": not_done,
        "completed_events": completed_events,
        "exactly_once": completed_once == config.n and not_done == 0,
    }
    log(
        f"http #{repeat + 1}: enqueue {config.n / enqueue_s:,.0f}/s, "
        f"process {config.n / process_s:,.0f}/s, exactly once: {result['exactly_once']}"
    )
    return result


async def run_http(
    server: PostgresServer, config: HttpConfig, log: Callable[[str], None]
) -> dict[str, Any]:
    if config.n % config.enqueue_batch:
        raise ValueError("n must be a multiple of the enqueue batch")
    runs = [await _one_run(server, config, repeat, log) for repeat in range(config.repeats)]
    return {
        "config": config.__dict__,
        "enqueue_per_s": summary([r["n"] / r["enqueue_s"] for r in runs]),
        "process_per_s": summary([r["n"] / r["process_s"] for r in runs]),
        "exactly_once": all(r["exactly_once"] for r in runs),
        "checks": runs,
    }
