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
    "pgqueuer": "PgQueuer on asyncpg, uvloop, max_concurrent_tasks = concurrency, "
    "batch_size = concurrency / 2, buffered log",
    "pgqueuer-uncapped": "the same, batch_size = concurrency and no in-flight cap",
    "procrastinate": "its own worker (run_worker_async), concurrency per process",
}
CPU_CLASSES = ("service", "workers", "postgresql")


def _ratio_rows(ratios: dict[str, Any]) -> list[list[str]]:
    """One row per comparison of paired repeats: its process and enqueue ratios."""
    return [
        [name, _spread(ratio["process"], 2), _spread(ratio["enqueue"], 2)]
        for name, ratio in ratios.items()
    ]


def _deployed(profile: str, deployed: dict[str, Any]) -> list[str]:
    c = deployed["config"]
    title = (
        f"### As deployed ({profile}): N={c['n']:,}, {c['workers']} worker processes × "
        f"concurrency {c['concurrency']}, repeats={c['repeats']}"
    )
    head = ["engine", "how it runs", "enqueue tasks/s", "process tasks/s"]
    head += ["CPU ms/task: service", "workers", "PostgreSQL", "total", "exactly once"]
    rows = []
    for name, engine in deployed["engines"].items():
        cpu = engine["cpu_ms_per_task"]
        cells = [_spread(cpu[k], 2) if k in cpu else "—" for k in (*CPU_CLASSES, "total")]
        speeds = [_spread(engine["enqueue_per_s"]), _spread(engine["process_per_s"])]
        rows.append([name, ENGINE_HOW.get(name, ""), *speeds, *cells, _yes(engine["exactly_once"])])
    lines = _table([title], head, rows)
    if deployed["ratios"]:
        paired = (
            "Ratios of paired repeats (run i against run i, minutes apart on this server); "
            "> 1 means taskplane is faster:"
        )
        lines += _table([paired], ["ratio", "process", "enqueue"], _ratio_rows(deployed["ratios"]))
    return lines


def _shared(profile: str, engine: dict[str, Any]) -> list[str]:
    c = engine["config"]
    title = (
        f"### Shared loop: isolates the SQL ({profile}): N={c['n']:,}, K={c['consumers']} "
        f"consumers, repeats={c['repeats']}"
    )
    how = (
        f"Enqueue: one connection, batches of {c['enqueue_batch']}. Process: K consumers in "
        "the bench process, each `lease(batch) → no-op → complete`, one commit per "
        "completion, the same loop for every library (none of them is deployed like this)."
    )
    head = ["peer", "lease batch", "enqueue tasks/s", "process tasks/s", "lease→complete p50 ms"]
    head += ["p99 ms", "client CPU ms/task", "PostgreSQL CPU ms/task", "exactly once"]
    measures = [
        ("enqueue_per_s", 0),
        ("process_per_s", 0),
        ("latency_p50_ms", 1),
        ("latency_p99_ms", 1),
        ("client_cpu_ms_per_task", 2),
        ("postgres_cpu_ms_per_task", 2),
    ]
    rows = [
        [
            name,
            str(peer["lease_batch"]),
            *(_spread(peer[key], digits) for key, digits in measures),
            _yes(peer["exactly_once"]),
        ]
        for name, peer in engine["peers"].items()
    ]
    lines = _table([title, how], head, rows)
    if engine.get("ratios"):
        head = ["ratio (shared loop)", "process", "enqueue"]
        lines += _table([], head, _ratio_rows(engine["ratios"]))
    return lines


LATENCY_HOW = {
    "taskplane-http": "POST /queues/{q}/tasks → an idle taskplane-worker",
    "taskplane": "engine enqueue → direct loop polling every 10 ms",
    "pgqueuer": "Queries.enqueue → PgQueuer woken by LISTEN/NOTIFY",
}


def _latency(profile: str, latency: dict[str, Any]) -> list[str]:
    c = latency["config"]
    title = (
        f"### Latency ({profile}): one task into an idle queue until its handler starts, "
        f"{c['samples']} samples after {c['warmup']} warm-up, one worker process × "
        f"concurrency {c['concurrency']}, {c['gap_s']} s apart"
    )
    keys = ("p50_ms", "p99_ms", "min_ms", "max_ms", "enqueue_call_p50_ms")
    head = ["engine", "path", "p50 ms", "p99 ms", "min ms", "max ms", "enqueue call p50 ms"]
    rows = [
        [
            name,
            LATENCY_HOW.get(name, ""),
            *(_num(engine[k], 1) for k in keys),
            _yes(engine["exactly_once"]),
        ]
        for name, engine in latency["engines"].items()
    ]
    return _table([title], [*head, "exactly once"], rows)


def _table(above: list[str], head: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table after the paragraphs ``above`` (a title, a description)."""
    lines = [""] + [line for paragraph in above for line in (paragraph, "")]
    lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _with(results: dict[str, Any], section: str) -> list[str]:
    """The profiles that measured ``section``."""
    return [p for p, data in results["profiles"].items() if data.get(section)]


def _latency_headline(results: dict[str, Any]) -> list[str]:
    """p50 and p99 of every engine, one pair of columns per profile."""
    profiles = _with(results, "latency")
    if not profiles:
        return []
    rows = []
    for name in results["profiles"][profiles[0]]["latency"]["engines"]:
        row = [name]
        for profile in profiles:
            engine = results["profiles"][profile]["latency"]["engines"].get(name)
            row += [_num(engine[k], 1) if engine else "—" for k in ("p50_ms", "p99_ms")]
        rows.append(row)
    head = ["engine"] + [f"{p} {q}" for p in profiles for q in ("p50", "p99")]
    title = "## Headline: latency of one task into an idle queue until its handler starts (ms)"
    return _table([title], head, rows)


def _headline(results: dict[str, Any]) -> list[str]:
    """taskplane against each peer as deployed, one row per comparison, one column per
    profile: the numbers to quote first."""
    profiles = _with(results, "deployed")
    if not profiles:
        return []
    rows = []
    for name in results["profiles"][profiles[0]]["deployed"]["ratios"]:
        ratios = [results["profiles"][p]["deployed"]["ratios"].get(name) for p in profiles]
        rows.append([name] + [_spread(r["process"], 2) if r else "—" for r in ratios])
    title = "## Headline: taskplane against the peers as deployed (process throughput ratio)"
    return _table([title], ["ratio", *profiles], rows)


def _pagination(pagination: dict[str, Any]) -> list[str]:
    c = pagination["config"]
    title = (
        f"## Pagination on tasks.tasks ({c['rows']:,} rows, 50 a page, sort -created_at, "
        f"median of {c['samples']}, fast profile)"
    )
    how = (
        "The query `GET /api/v1/tasks` runs (`ORDER BY created_at DESC, id DESC`, the "
        "cursor as `(created_at, id) < (:v, :id)` from `task_service.pagination`) against "
        "the same query with `OFFSET`."
    )
    head = ["page", "keyset ms", "OFFSET ms", "OFFSET / keyset", "same rows"]
    rows = [
        [
            depth,
            f"{row['keyset_ms']:.2f}",
            f"{row['offset_ms']:.2f}",
            f"{row['offset_over_keyset']:.1f}",
            _yes(row["same_rows"]),
        ]
        for depth, row in pagination["depths"].items()
    ]
    return _table([title, how], head, rows)


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
    lines += _latency_headline(results)
    for name, profile in results["profiles"].items():
        lines += ["", f"## Profile: {name}"]
        if profile.get("deployed"):
            lines += _deployed(name, profile["deployed"])
        if profile.get("latency"):
            lines += _latency(name, profile["latency"])
        if profile.get("shared"):
            lines += _shared(name, profile["shared"])
    pagination = results.get("pagination")
    if pagination:
        lines += _pagination(pagination)
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
