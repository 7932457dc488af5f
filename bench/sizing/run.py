"""What a team sizing a cluster reads: the PostgreSQL bound, the task API against the
framework ceiling, cost growth and each process's memory, in one run on one server.

``python -m bench`` runs it after the queue comparison; ``python -m bench.sizing
[--quick] [--results-dir DIR]`` runs it alone. One throw-away PostgreSQL server (the
``fast`` profile: fsync off, like the test suite); results in
``<results>/<UTC timestamp>-sizing[-quick].json`` and a PNG per measurement
(``sizing[-quick]-<measurement>.png``) next to it, tables in ``latest-sizing[-quick].md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg

from bench import report
from bench.runs import DeployedConfig, Log
from bench.sizing import plots
from bench.sizing.api_ceiling import SEED_SQL, measure_api
from bench.sizing.bound import run_bound
from bench.sizing.footprint import RssSampler, footprint, rss_mib
from bench.sizing.growth import measure_growth
from taskplane_testing.platform import Platform, running_platform
from taskplane_testing.postgres import PostgresServer, free_port
from taskplane_testing.processes import ServiceProcess, stop_process, wait_until

RESULTS = Path(__file__).resolve().parents[1] / "results"
FOOTPRINT_QUEUE = "footprint"


@dataclass(frozen=True)
class Sizes:
    engine: DeployedConfig
    pgbench_s: int
    wrk_s: int
    seed_rows: int
    queue_tasks: int
    growth_samples: int


def sizes(quick: bool) -> Sizes:
    if quick:
        engine = DeployedConfig(n=400, workers=1, concurrency=16, enqueue_batch=100, repeats=1)
        return Sizes(engine, pgbench_s=2, wrk_s=3, seed_rows=200, queue_tasks=200, growth_samples=5)
    engine = DeployedConfig(n=5_000, workers=2, concurrency=16, enqueue_batch=1000, repeats=1)
    return Sizes(
        engine, pgbench_s=20, wrk_s=5, seed_rows=2_000, queue_tasks=2_000, growth_samples=100
    )


def _popen(command: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    log = Path(tempfile.mkstemp(prefix=f"taskplane-sizing-{name}-", suffix=".log")[1])
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *command],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.TransportError:
        return False


@contextmanager
def _process(command: list[str], env: dict[str, str], name: str, ready_url: str) -> Iterator[int]:
    """A process up until the block ends; its pid once ``ready_url`` answers."""
    process = _popen(command, env, name)
    try:
        wait_until(lambda: process.poll() is not None or _answers(ready_url), f"{name} up")
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode})")
        yield process.pid
    finally:
        stop_process(process)


@contextmanager
def ceiling_app(
    database_url: str, jwks_url: str, users_database_url: str = ""
) -> Iterator[tuple[str, int]]:
    """:mod:`bench.sizing.ceiling_app` under uvicorn until the block ends; its base URL and pid."""
    url = f"http://127.0.0.1:{free_port()}"
    command = ["uvicorn", "bench.sizing.ceiling_app:app", "--port", url.rsplit(":", 1)[1]]
    command += ["--log-level", "warning", "--no-access-log"]
    env = {
        "DATABASE_URL": database_url,
        "USERS_DATABASE_URL": users_database_url,
        "TASKPLANE_JWKS_URL": jwks_url,
    }
    with _process(command, env, "ceiling", f"{url}/docs") as pid:
        yield url, pid


def _others(
    stack: ExitStack, server: PostgresServer, platform: Platform, database_url: str
) -> dict[str, Any]:
    """The ceiling app, user-, notification-service and a worker; their pids."""
    jwks = f"{platform.auth.url}/.well-known/jwks.json"
    common = {"TASKPLANE_ENVIRONMENT": "development", "TASKPLANE_JWKS_URL": jwks}
    users_url = server.create_database("sizing_users")
    users = ServiceProcess("user_service", {**common, "DATABASE_URL": users_url})
    notifier = ServiceProcess(
        "notification_service",
        {
            **common,
            "DATABASE_URL": server.create_database("sizing_notifications"),
            "TASKPLANE_TASK_SERVICE_URL": platform.tasks.url,
            "TASKPLANE_AUTH_URL": platform.auth.url,
            "TASKPLANE_SERVICE_TOKEN": platform.service_token(
                "sizing-notifier", "events:read", "users:read"
            ),
            "TASKPLANE_FEED_WAIT_S": "1",
        },
    )
    # The user-service first: its migrations create the tables the ceiling's /me writes.
    pids: dict[str, Any] = {}
    for name, service in (("user-service", users), ("notification-service", notifier)):
        stack.enter_context(service)
        assert service.process is not None
        pids[name] = service.process.pid
    ceiling, pids["ceiling app"] = stack.enter_context(ceiling_app(database_url, jwks, users_url))
    metrics = free_port()
    pids["worker"] = stack.enter_context(
        _process(
            [
                "taskplane_worker",
                "--queue",
                FOOTPRINT_QUEUE,
                "--handler",
                "builtin:noop",
                "--concurrency",
                "16",
                "--metrics-port",
                str(metrics),
                "--wait",
                "1",
            ],
            {
                "TASKPLANE_API_URL": platform.tasks.url,
                "TASKPLANE_AUTH_URL": platform.auth.url,
                "TASKPLANE_TOKEN": platform.service_token("sizing-worker", "queues:work"),
                "LOG_LEVEL": "WARNING",
            },
            "worker",
            f"http://127.0.0.1:{metrics}/healthz",
        )
    )
    return {**pids, "ceiling url": ceiling, "users url": users.url}


def _enqueue(api_url: str, token: str, tasks: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api_url, headers=headers, timeout=60) as client:
        for start in range(0, tasks, 100):
            body = {"tasks": [{"payload": {"n": n}} for n in range(start, min(tasks, start + 100))]}
            client.post(f"/api/v1/queues/{FOOTPRINT_QUEUE}/tasks", json=body).raise_for_status()


def _completed(database_url: str) -> int:
    with psycopg.connect(database_url) as db:
        row = db.execute(
            "SELECT count(*) FROM tasks.queue_tasks WHERE queue = %s AND status = 'completed'",
            (FOOTPRINT_QUEUE,),
        ).fetchone()
    return int(row[0]) if row else 0


def serving(server: PostgresServer, size: Sizes, quick: bool, log: Log) -> dict[str, Any]:
    """API against the ceiling and footprint (one platform), then growth on its tables."""
    with running_platform(server, "sizing") as platform, ExitStack() as stack:
        database_url = server.url("sizing")
        token = platform.admin_token()
        owner = jwt.decode(token, options={"verify_signature": False})["sub"]
        pids = _others(stack, server, platform, database_url)
        ceiling = pids.pop("ceiling url")
        users_url = pids.pop("users url")
        assert platform.auth.process
        assert platform.tasks.process
        pids = {
            "auth-service": platform.auth.process.pid,
            "task-service": platform.tasks.process.pid,
            **pids,
        }
        with psycopg.connect(database_url, autocommit=True) as db:
            db.execute(SEED_SQL, {"owner": owner, "rows": size.seed_rows})
            row = db.execute("SELECT id FROM tasks.tasks LIMIT 1").fetchone()
            db.execute("VACUUM (ANALYZE) tasks.tasks")
        assert row is not None
        time.sleep(2)
        idle = {name: rss_mib(pid) for name, pid in pids.items()}
        sampler = RssSampler(pids)
        with sampler.running():
            # The worker's load first, drained before the API runs so that it does not
            # compete with them for the CPU.
            _enqueue(platform.tasks.url, token, size.queue_tasks)
            wait_until(
                lambda: _completed(database_url) >= size.queue_tasks, "footprint queue drained", 600
            )
            bases = {
                "tasks": platform.tasks.url,
                "auth": platform.auth.url,
                "users": users_url,
                "ceiling": ceiling,
            }
            processes = {
                "tasks": pids["task-service"],
                "auth": pids["auth-service"],
                "users": pids["user-service"],
                "ceiling": pids["ceiling app"],
            }
            api = measure_api(bases, processes, token, str(row[0]), size.wrk_s, log, database_url)
        memory = footprint(idle, sampler.peak_mib)
        log(
            "footprint: "
            + ", ".join(
                f"{n} {m['idle_mib']:.0f}/{m['load_mib']:.0f} MiB" for n, m in memory.items()
            )
        )
        with psycopg.connect(database_url, autocommit=True) as db:
            db.execute(
                "TRUNCATE tasks.tasks, tasks.queue_jobs, tasks.queue_jobs_finished, tasks.events"
                " CASCADE"
            )
        growth = measure_growth(
            database_url,
            platform.tasks.url,
            platform.admin_token(),
            owner,
            quick,
            size.growth_samples,
            log,
        )
    return {"api": api, "footprint": memory, "growth": growth}


def run(quick: bool, results_dir: Path, log: Log, drain: dict[str, Any] | None = None) -> Path:
    """Every sizing measurement; the JSON path (plots and table beside it)."""
    started = time.perf_counter()
    size = sizes(quick)
    results: dict[str, Any] = {"quick": quick, "machine": report.machine_info()}
    with PostgresServer(max_connections=200, durable=False) as server:
        results["server"] = report.server_info(server)
        results["bound"] = asyncio.run(run_bound(server, size.engine, size.pgbench_s, log))
        results.update(serving(server, size, quick, log))
    if drain is not None:
        results["drain_growth"] = drain
    results["machine"]["load_average_at_end"] = list(os.getloadavg())
    results["wall_s"] = time.perf_counter() - started
    results_dir.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if quick else ""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = results_dir / f"{stamp}-sizing{suffix}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    plots.write_all(results, results_dir, f"sizing{suffix}")
    (results_dir / f"latest-sizing{suffix}.md").write_text(plots.table(results, path.name))
    log(f"wrote {path} and its plots ({results['wall_s']:.0f} s)")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sizing", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args, _ = parser.parse_known_args(argv)
    from bench.cli import log

    run(args.quick, args.results_dir, log)
    return 0
