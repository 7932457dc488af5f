"""The PostgreSQL bound: what the server itself does with a task's row writes, by pgbench.

A custom pgbench script writes exactly the rows the engine's best case writes per task,
in the engine's own schema (a clone of its template database): the live job row and its
``task.created`` event (enqueue), the claim ``UPDATE`` and its ``task.updated`` event
(lease), the completion's move of the row from ``tasks.queue_jobs`` to
``tasks.queue_jobs_finished``, its ``task.completed`` event and the counter shard upsert
(complete). Three statements, each its own transaction as the three calls are,
one task per pgbench transaction, at the engine's concurrency (workers x concurrency
clients). The engine is measured on the same server in the same run (its as-deployed
worker processes, :func:`bench.queues.deployed.run_processes`); the ratio is engine tasks/s
(enqueue and processing together) over pgbench tasks/s.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.adapter import uuid7_sql
from bench.queues.databases import clone, drop, install_templates
from bench.queues.deployed import run_processes
from bench.queues.peers import TaskplanePeer
from bench.runs import DeployedConfig, Log
from taskplane_testing.postgres import PostgresServer

QUEUE = "bound"
COMPLETED_SQL = (
    "SELECT count(*) FROM tasks.queue_tasks WHERE queue = 'bound' AND status = 'completed'"
)
#: The columns a finished job keeps (its live row's, then what finishing adds).
_FINISHED = (
    "id, queue, status, priority, title, payload, owner_id, traceparent, max_attempts,"
    " attempts, run_at, timeout_s, dedupe_key, leased_at, last_error, version, created_at,"
    " updated_at, completed_at, finished_at"
)
#: One pgbench transaction's writes, a batch of ``:batch`` tasks in three statements as
#: the engine's enqueue, lease and complete calls (each its own transaction): the job rows
#: (UUIDv7 keys, as the service makes them) and their ``task.created`` events; the claim
#: of up to a batch (``FOR UPDATE SKIP LOCKED``) with its ``task.updated`` events; the
#: completion of this client's claimed jobs, which moves them from the live table to the
#: finished one, with their ``task.completed`` events and the counter shard upsert.
SCRIPT = f"""
WITH src AS (
  INSERT INTO tasks.queue_jobs (id, queue, status, priority, title, payload, max_attempts,
                                run_at, created_at, updated_at)
  SELECT {uuid7_sql("clock_timestamp()")}, 'bound', 'pending', 1, 'bound', '{{}}', 3, now(),
         now(), now()
  FROM generate_series(1, :batch) RETURNING id, queue
) INSERT INTO tasks.events (type, task_id, queue, data)
  SELECT 'task.created', id, queue, '{{"status": "pending", "attempt": 0}}' FROM src;
WITH claimed AS (
  UPDATE tasks.queue_jobs SET status = 'in_progress', attempts = attempts + 1,
    lease_id = {uuid7_sql("clock_timestamp()")}, leased_by = 'pgbench-' || :client_id,
    leased_at = now(), lease_expires_at = now() + interval '30 seconds', updated_at = now(),
    version = version + 1
  WHERE id IN (SELECT id FROM tasks.queue_jobs WHERE queue = 'bound' AND status = 'pending'
               ORDER BY priority DESC, run_at, id LIMIT :batch FOR UPDATE SKIP LOCKED)
  RETURNING id, queue
) INSERT INTO tasks.events (type, task_id, queue, data)
  SELECT 'task.updated', id, queue, '{{"status": "in_progress", "attempt": 1}}' FROM claimed;
WITH done AS (
  DELETE FROM tasks.queue_jobs
  WHERE queue = 'bound' AND status = 'in_progress' AND leased_by = 'pgbench-' || :client_id
  RETURNING *
), moved AS (
  INSERT INTO tasks.queue_jobs_finished ({_FINISHED})
  SELECT id, queue, 'completed', priority, title, payload, owner_id, traceparent,
         max_attempts, attempts, run_at, timeout_s, dedupe_key, leased_at, last_error,
         version + 1, created_at, now(), now(), now()
  FROM done
), events AS (
  INSERT INTO tasks.events (type, task_id, queue, data)
  SELECT 'task.completed', id, queue, '{{"status": "completed", "attempt": 1}}' FROM done
) INSERT INTO tasks.queue_counters AS c (queue, shard, completed_total)
  SELECT queue, :client_id % 16, count(*) FROM done GROUP BY queue
  ON CONFLICT (queue, shard)
  DO UPDATE SET completed_total = c.completed_total + excluded.completed_total;
"""  # noqa: S608 - assembled from constants only


def pgbench_path(server: PostgresServer) -> Path:
    """pgbench of the same PostgreSQL installation as the server."""
    path = Path(server.bin) / "pgbench"
    if not path.exists():
        raise FileNotFoundError(f"{path}: install the PostgreSQL client packages")
    return path


def _psql(server: PostgresServer, url: str, sql: str) -> str:
    run = subprocess.run(
        [str(Path(server.bin) / "psql"), url, "-qAtc", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return run.stdout.strip()


def run_pgbench(
    server: PostgresServer, url: str, clients: int, batch: int, seconds: int
) -> dict[str, Any]:
    """pgbench with :data:`SCRIPT` for ``seconds``; tasks completed per second by the rows."""
    script = Path(tempfile.mkdtemp(prefix="taskplane-bound-")) / "task.sql"
    script.write_text(SCRIPT)
    database = url.rsplit("/", 1)[1]
    run = subprocess.run(
        [
            str(pgbench_path(server)),
            "-n",
            "-h",
            "127.0.0.1",
            "-p",
            str(server.port),
            "-U",
            "postgres",
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(seconds),
            "-D",
            f"batch={batch}",
            "-M",
            "prepared",
            "-f",
            str(script),
            database,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{run.stdout}\n{run.stderr}")
    duration = re.search(r"duration: (\d+) s", run.stdout)
    completed = int(_psql(server, url, COMPLETED_SQL))
    latency = re.search(r"latency average = ([\d.]+) ms", run.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", run.stdout)
    return {
        "tasks_per_s": completed / (int(duration.group(1)) if duration else seconds),
        "completed": completed,
        "batch": batch,
        "latency_ms": float(latency.group(1)) if latency else None,
        "failed": int(failed.group(1)) if failed else 0,
        "clients": clients,
        "seconds": seconds,
    }


async def run_bound(
    server: PostgresServer, config: DeployedConfig, seconds: int, log: Log
) -> dict[str, Any]:
    """The engine as deployed, then pgbench at the same concurrency, same server."""
    peer = TaskplanePeer(pool_size=2)
    await install_templates(server, {"taskplane": peer})
    engine = await run_processes(server, peer, config, 2000)
    engine_rate = engine["n"] / (engine["enqueue_s"] + engine["process_s"])
    url = await clone(server, "template_taskplane", "bound")
    try:
        _psql(server, url, "INSERT INTO tasks.queues (name) VALUES ('bound')")
        clients = config.workers * config.concurrency
        bound = run_pgbench(server, url, clients, config.concurrency, seconds)
    finally:
        await drop(server, "bound")
    result = {
        "engine": {**engine, "tasks_per_s": engine_rate},
        "pgbench": bound,
        "engine_over_bound": engine_rate / bound["tasks_per_s"],
        "target": 0.25,
    }
    log(
        f"bound: engine {engine_rate:,.0f} tasks/s, pgbench {bound['tasks_per_s']:,.0f} tasks/s"
        f" ({clients} clients): engine/bound {result['engine_over_bound']:.2f}"
    )
    return result
