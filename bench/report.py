"""Machine facts and the result files: ``<timestamp>.json`` and ``latest.md``."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg

from taskplane_common.testing.postgres import PostgresServer

PACKAGES = ["SQLAlchemy", "psycopg", "pgqueuer", "procrastinate", "uvicorn", "fastapi", "httpx"]
SERVER_SETTINGS = ["fsync", "synchronous_commit", "full_page_writes", "shared_buffers"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def machine_info(server: PostgresServer) -> dict[str, Any]:
    with psycopg.connect(server.url(), autocommit=True) as connection:
        version = connection.execute("SHOW server_version").fetchone()
        settings = {
            name: (connection.execute(f"SHOW {name}").fetchone() or ("?",))[0]
            for name in SERVER_SETTINGS
        }
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgresql": version[0] if version else "?",
        "postgresql_settings": settings,
        "packages": versions,
        "git_commit": _git_commit(),
    }


def _num(value: float, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _yes(value: bool) -> str:
    return "yes" if value else "NO"


def _spread(stat: dict[str, Any], digits: int = 0) -> str:
    """``median [min–max]``; just the value for a single run."""
    if len(stat["values"]) <= 1:
        return _num(stat["median"], digits)
    return (
        f"{_num(stat['median'], digits)} [{_num(stat['min'], digits)}–{_num(stat['max'], digits)}]"
    )


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        f"# Benchmark results ({machine['date']}{', quick' if results['quick'] else ''})",
        "",
        f"- machine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), shared; load "
        f"average at start {', '.join(f'{x:.2f}' for x in machine['load_average_at_start'])}",
        f"- PostgreSQL {machine['postgresql']} (throw-away server on 127.0.0.1, the same for "
        "every peer: "
        + ", ".join(f"{k}={v}" for k, v in machine["postgresql_settings"].items())
        + ")",
        f"- Python {machine['python']}, {machine['platform']}; "
        + ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v),
        f"- commit {machine['git_commit']}; total wall time {results['wall_s']:.0f} s",
        "",
        "Values are `median [min–max]` over the repeats.",
    ]
    engine = results.get("engine")
    if engine:
        c = engine["config"]
        lines += [
            "",
            f"## Queue engines, direct (no HTTP): N={c['n']:,}, K={c['consumers']} consumers, "
            f"repeats={c['repeats']}",
            "",
            f"Enqueue: one connection, batches of {c['enqueue_batch']}. Process: K consumers, "
            "each `lease(batch) → no-op → complete`, one commit per completion.",
            "",
            "| peer | lease batch | enqueue tasks/s | process tasks/s | lease→complete p50 ms "
            "| p99 ms | client CPU ms/task | exactly once |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, peer in engine["peers"].items():
            lines.append(
                f"| {name} | {peer['lease_batch']} | {_spread(peer['enqueue_per_s'])} "
                f"| {_spread(peer['process_per_s'])} | {_spread(peer['latency_p50_ms'], 1)} "
                f"| {_spread(peer['latency_p99_ms'], 1)} "
                f"| {_spread(peer['client_cpu_ms_per_task'], 2)} | {_yes(peer['exactly_once'])} |"
            )
        if engine.get("ratios"):
            lines += [
                "",
                "Ratios of paired repeats (taskplane run i against the peer's run i, "
                "measured minutes apart in this one run); > 1 means taskplane is faster:",
                "",
                "| ratio | enqueue | process |",
                "| --- | --- | --- |",
            ]
            for name, ratio in engine["ratios"].items():
                lines.append(
                    f"| {name} | {_spread(ratio['enqueue'], 2)} | {_spread(ratio['process'], 2)} |"
                )
    http = results.get("http")
    if http:
        c = http["config"]
        lines += [
            "",
            f"## End to end over HTTP: N={c['n']:,}, {c['workers']} taskplane-worker processes "
            f"× concurrency {c['concurrency']}, repeats={c['repeats']}",
            "",
            "| path | enqueue tasks/s | process tasks/s | exactly once |",
            "| --- | --- | --- | --- |",
            f"| HTTP (uvicorn task-service + workers) | {_spread(http['enqueue_per_s'])} "
            f"| {_spread(http['process_per_s'])} | {'yes' if http['exactly_once'] else 'NO'} |",
        ]
        if "vs_direct" in http:
            v = http["vs_direct"]
            lines += [
                f"| direct engine (above) | {_num(v['direct_enqueue_per_s'])} "
                f"| {_num(v['direct_process_per_s'])} | |",
                "",
                f"HTTP / direct (ratio of medians): enqueue {v['enqueue']:.2f}, "
                f"process {v['process']:.2f}.",
            ]
    pagination = results.get("pagination")
    if pagination:
        c = pagination["config"]
        lines += [
            "",
            f"## Pagination on tasks.tasks ({c['rows']:,} rows, 50 a page, sort -created_at, "
            f"median of {c['samples']})",
            "",
            "The query `GET /api/v1/tasks` runs (`ORDER BY created_at DESC, id DESC`, the "
            "cursor as `(created_at, id) < (:v, :id)` from `task_service.pagination`) against "
            "the same query with `OFFSET`.",
            "",
            "| page | keyset ms | OFFSET ms | OFFSET / keyset | same rows |",
            "| --- | --- | --- | --- | --- |",
        ]
        for depth, row in pagination["depths"].items():
            lines.append(
                f"| {depth} | {row['keyset_ms']:.2f} | {row['offset_ms']:.2f} "
                f"| {row['offset_over_keyset']:.1f} | {_yes(row['same_rows'])} |"
            )
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "-quick" if results["quick"] else ""
    data = directory / f"{stamp}{suffix}.json"
    data.write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = directory / f"latest{suffix}.md"
    table.write_text(markdown(results))
    return data, table
