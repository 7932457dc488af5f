"""Command line of ``python -m bench``: sizes, selection, one PostgreSQL server per profile.

Two profiles, each its own throw-away PostgreSQL server started here: ``fast`` (fsync,
synchronous_commit and full_page_writes off, like the test suite) and ``durable``
(PostgreSQL's defaults: every commit waits for its WAL flush). Within a profile every
engine is measured on that one server in this one run, interleaved, so the ratios are
side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.queues.deployed import run_deployed
from bench.queues.drain_growth import run_drain_growth
from bench.queues.engine import EngineConfig, run_engine
from bench.runs import DeployedConfig
from bench.sizing.pagination import PaginationConfig, run_pagination
from taskplane_testing.postgres import PostgresServer

SECTIONS = ("deployed", "shared", "pagination", "drain")
PROFILES = {"fast": False, "durable": True}
RESULTS = Path(__file__).resolve().parent / "results"


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable); default: all",
    )
    parser.add_argument("--profiles", default="fast,durable", help="comma-separated: fast, durable")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("-n", type=int, help="tasks per as-deployed run")
    parser.add_argument("--shared-n", type=int, help="tasks per shared-loop run")
    parser.add_argument("--repeats", type=int, help="repeats per engine (both tables)")
    parser.add_argument("--workers", type=int, help="worker processes per as-deployed engine")
    parser.add_argument("--concurrency", type=int, help="concurrency of each worker process")
    parser.add_argument("--consumers", type=int, help="shared loop: concurrent consumers")
    parser.add_argument(
        "--engines",
        default="taskplane,taskplane-http,pgqueuer,procrastinate",
        help="comma-separated as-deployed engines",
    )
    parser.add_argument(
        "--peers",
        default="taskplane,pgqueuer,procrastinate",
        help="comma-separated shared-loop peers",
    )
    args = parser.parse_args(argv)
    unknown = set(_names(args.profiles)) - set(PROFILES)
    if unknown:
        parser.error(f"unknown profile(s): {', '.join(sorted(unknown))}")
    return args


def configs(args: argparse.Namespace) -> tuple[DeployedConfig, EngineConfig, PaginationConfig]:
    if args.quick:
        deployed = DeployedConfig(n=400, workers=1, concurrency=16, enqueue_batch=100, repeats=1)
        shared = EngineConfig(n=400, consumers=4, batch=10, enqueue_batch=100, repeats=1)
        pagination = PaginationConfig(rows=6_000, depths=[1, 10, 100], samples=3)
    else:
        deployed = DeployedConfig(n=3_000, workers=2, concurrency=16, enqueue_batch=1000, repeats=2)
        shared = EngineConfig(n=3_000, consumers=8, batch=10, enqueue_batch=1000, repeats=2)
        pagination = PaginationConfig(rows=100_000, depths=[1, 100, 1000], samples=15)
    if args.n:
        deployed.n = args.n
    if args.shared_n:
        shared.n = args.shared_n
    if args.repeats:
        deployed.repeats = shared.repeats = args.repeats
    if args.workers:
        deployed.workers = args.workers
    if args.concurrency:
        deployed.concurrency = args.concurrency
    if args.consumers:
        shared.consumers = args.consumers
    deployed.engines = _names(args.engines)
    shared.peers = _names(args.peers)
    return deployed, shared, pagination


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def _profile(
    args: argparse.Namespace, server: PostgresServer, first: bool
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One profile's sections on its server; pagination (durability-blind) in the first."""
    deployed_config, shared_config, pagination_config = configs(args)
    sections = args.only or list(SECTIONS)
    profile: dict[str, Any] = {"server": report.server_info(server)}
    if "deployed" in sections:
        profile["deployed"] = await run_deployed(server, deployed_config, log)
    if "shared" in sections:
        profile["shared"] = await run_engine(server, shared_config, log)
    if first and "drain" in sections:
        profile["drain_growth"] = await run_drain_growth(server, deployed_config, args.quick, log)
    pagination = None
    if first and "pagination" in sections:
        pagination = await run_pagination(server, pagination_config, log)
    return profile, pagination


def correct(results: dict[str, Any]) -> list[str]:
    """What went wrong (a task lost or run twice, pages that differ); empty when nothing."""
    problems: list[str] = []
    for name, profile in results["profiles"].items():
        for engine, data in profile.get("deployed", {}).get("engines", {}).items():
            if not data["exactly_once"]:
                outcomes = [run["outcome"] for run in data["checks"]]
                problems.append(f"{name}: deployed {engine}: not exactly once: {outcomes}")
        for peer, data in profile.get("shared", {}).get("peers", {}).items():
            if not data["exactly_once"]:
                problems.append(f"{name}: shared loop {peer}: not exactly once: {data['checks']}")
        if not profile.get("drain_growth", {}).get("exactly_once", True):
            problems.append(f"{name}: drain growth: not exactly once")
    if "pagination" in results and not results["pagination"]["same_rows"]:
        problems.append("pagination: keyset and OFFSET pages differ")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {"quick": args.quick, "machine": report.machine_info()}
    results["profiles"] = {}
    for index, name in enumerate(_names(args.profiles)):
        with PostgresServer(max_connections=200, durable=PROFILES[name]) as server:
            log(f"profile {name}: PostgreSQL on 127.0.0.1:{server.port} ({server.bin})")
            profile, pagination = asyncio.run(_profile(args, server, index == 0))
        results["profiles"][name] = profile
        if pagination is not None:
            results["pagination"] = pagination
    results["wall_s"] = time.perf_counter() - started
    data, table = report.write(results, args.results_dir)
    print(table.read_text())
    log(f"wrote {data} and {table}")
    problems = correct(results)
    for problem in problems:
        log(f"FAILED: {problem}")
    return 1 if problems else 0
