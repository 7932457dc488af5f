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

from taskplane_testing.postgres import PostgresServer

PACKAGES = [
    "SQLAlchemy",
    "psycopg",
    "asyncpg",
    "pgqueuer",
    "procrastinate",
    "uvloop",
    "uvicorn",
    "fastapi",
    "httpx",
]
SERVER_SETTINGS = [
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_sync_method",
    "shared_buffers",
]


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


def machine_info() -> dict[str, Any]:
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
        "packages": versions,
        "git_commit": _git_commit(),
    }


def server_info(server: PostgresServer) -> dict[str, Any]:
    """The profile's PostgreSQL: version and the settings that decide what a commit costs."""
    with psycopg.connect(server.url(), autocommit=True) as connection:
        version = connection.execute("SHOW server_version").fetchone()
        settings = {
            name: (connection.execute(f"SHOW {name}").fetchone() or ("?",))[0]
            for name in SERVER_SETTINGS
        }
    return {"postgresql": version[0] if version else "?", "settings": settings}


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


ENGINE_HOW = {
    "taskplane-http": "task-service (uvicorn) + taskplane-worker processes, streaming lease",
    "taskplane-http-poll": "the same, HTTP lease requests (the workers' --no-stream)",
    "taskplane": "engine called in-process by a taskplane-worker-shaped loop (no HTTP)",
    "pgqueuer": "PgQueuer on asyncpg, uvloop, batch_size = concurrency, buffered log",
    "procrastinate": "its own worker (run_worker_async), concurrency per process",
}
CPU_CLASSES = ("service", "workers", "postgresql")


def _deployed(profile: str, deployed: dict[str, Any]) -> list[str]:
    c = deployed["config"]
    lines = [
        "",
        f"### As deployed ({profile}): N={c['n']:,}, {c['workers']} worker processes × "
        f"concurrency {c['concurrency']}, repeats={c['repeats']}",
        "",
        "| engine | how it runs | enqueue tasks/s | process tasks/s | CPU ms/task: service "
        "| workers | PostgreSQL | total | exactly once |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, engine in deployed["engines"].items():
        cpu = engine["cpu_ms_per_task"]
        cells = [_spread(cpu[k], 2) if k in cpu else "—" for k in (*CPU_CLASSES, "total")]
        lines.append(
            f"| {name} | {ENGINE_HOW.get(name, '')} | {_spread(engine['enqueue_per_s'])} "
            f"| {_spread(engine['process_per_s'])} | {' | '.join(cells)} "
            f"| {_yes(engine['exactly_once'])} |"
        )
    if deployed["ratios"]:
        lines += [
            "",
            "Ratios of paired repeats (run i against run i, minutes apart on this server); "
            "> 1 means taskplane is faster:",
            "",
            "| ratio | process | enqueue |",
            "| --- | --- | --- |",
        ]
        for name, ratio in deployed["ratios"].items():
            lines.append(
                f"| {name} | {_spread(ratio['process'], 2)} | {_spread(ratio['enqueue'], 2)} |"
            )
    return lines


def _shared(profile: str, engine: dict[str, Any]) -> list[str]:
    c = engine["config"]
    lines = [
        "",
        f"### Shared loop: isolates the SQL ({profile}): N={c['n']:,}, K={c['consumers']} "
        f"consumers, repeats={c['repeats']}",
        "",
        f"Enqueue: one connection, batches of {c['enqueue_batch']}. Process: K consumers in "
        "the bench process, each `lease(batch) → no-op → complete`, one commit per "
        "completion, the same loop for every library (none of them is deployed like this).",
        "",
        "| peer | lease batch | enqueue tasks/s | process tasks/s | lease→complete p50 ms "
        "| p99 ms | client CPU ms/task | PostgreSQL CPU ms/task | exactly once |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, peer in engine["peers"].items():
        lines.append(
            f"| {name} | {peer['lease_batch']} | {_spread(peer['enqueue_per_s'])} "
            f"| {_spread(peer['process_per_s'])} | {_spread(peer['latency_p50_ms'], 1)} "
            f"| {_spread(peer['latency_p99_ms'], 1)} "
            f"| {_spread(peer['client_cpu_ms_per_task'], 2)} "
            f"| {_spread(peer['postgres_cpu_ms_per_task'], 2)} | {_yes(peer['exactly_once'])} |"
        )
    if engine.get("ratios"):
        lines += ["", "| ratio (shared loop) | process | enqueue |", "| --- | --- | --- |"]
        for name, ratio in engine["ratios"].items():
            lines.append(
                f"| {name} | {_spread(ratio['process'], 2)} | {_spread(ratio['enqueue'], 2)} |"
            )
    return lines


def _headline(results: dict[str, Any]) -> list[str]:
    """taskplane against each peer as deployed, one row per comparison, one column per
    profile: the numbers to quote first."""
    profiles = [p for p, data in results["profiles"].items() if data.get("deployed")]
    if not profiles:
        return []
    names = list(results["profiles"][profiles[0]]["deployed"]["ratios"])
    lines = [
        "",
        "## Headline: taskplane against the peers as deployed (process throughput ratio)",
        "",
        "| ratio | " + " | ".join(profiles) + " |",
        "| --- |" + " --- |" * len(profiles),
    ]
    for name in names:
        cells = [
            _spread(results["profiles"][p]["deployed"]["ratios"][name]["process"], 2)
            if name in results["profiles"][p]["deployed"]["ratios"]
            else "—"
            for p in profiles
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        f"# Benchmark results ({machine['date']}{', quick' if results['quick'] else ''})",
        "",
        f"- machine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), shared; load "
        f"average at start {', '.join(f'{x:.2f}' for x in machine['load_average_at_start'])}",
        f"- Python {machine['python']}, {machine['platform']}; "
        + ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v),
        f"- commit {machine['git_commit']}; total wall time {results['wall_s']:.0f} s",
    ]
    for name, profile in results["profiles"].items():
        server = profile["server"]
        lines.append(
            f"- profile **{name}**: PostgreSQL {server['postgresql']}, a throw-away server on "
            "127.0.0.1 started by the bench, the same for every engine of the profile: "
            + ", ".join(f"{k}={v}" for k, v in server["settings"].items())
        )
    lines += ["", "Values are `median [min–max]` over the repeats."]
    lines += _headline(results)
    for name, profile in results["profiles"].items():
        lines += ["", f"## Profile: {name}"]
        if profile.get("deployed"):
            lines += _deployed(name, profile["deployed"])
        if profile.get("shared"):
            lines += _shared(name, profile["shared"])
    pagination = results.get("pagination")
    if pagination:
        c = pagination["config"]
        lines += [
            "",
            f"## Pagination on tasks.tasks ({c['rows']:,} rows, 50 a page, sort -created_at, "
            f"median of {c['samples']}, fast profile)",
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
