"""Command line of ``python -m bench``: sizes, selection, one PostgreSQL server for all."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.e2e import HttpConfig, run_http
from bench.engine import EngineConfig, run_engine
from bench.pagination import PaginationConfig, run_pagination
from taskplane_common.testing.postgres import PostgresServer

SECTIONS = ("engine", "http", "pagination")
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable); default: all",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("-n", type=int, help="tasks per engine/HTTP run")
    parser.add_argument("--consumers", type=int, help="concurrent consumers per engine peer")
    parser.add_argument("--repeats", type=int, help="engine repeats per peer")
    parser.add_argument(
        "--peers",
        default="taskplane,pgqueuer,procrastinate",
        help="comma-separated engine peers",
    )
    return parser.parse_args(argv)


def configs(args: argparse.Namespace) -> tuple[EngineConfig, HttpConfig, PaginationConfig]:
    if args.quick:
        engine = EngineConfig(n=400, consumers=4, batch=10, enqueue_batch=100, repeats=1)
        http = HttpConfig(n=400, workers=1, concurrency=16, enqueue_batch=100, repeats=1)
        pagination = PaginationConfig(rows=6_000, depths=[1, 10, 100], samples=3)
    else:
        engine = EngineConfig(n=5_000, consumers=8, batch=10, enqueue_batch=1000, repeats=3)
        http = HttpConfig(n=5_000, workers=2, concurrency=16, enqueue_batch=1000, repeats=1)
        pagination = PaginationConfig(rows=100_000, depths=[1, 100, 1000], samples=15)
    if args.n:
        engine.n = http.n = args.n
    if args.consumers:
        engine.consumers = args.consumers
    if args.repeats:
        engine.repeats = args.repeats
    engine.peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    return engine, http, pagination


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def _run(args: argparse.Namespace, server: PostgresServer) -> dict[str, Any]:
    engine_config, http_config, pagination_config = configs(args)
    sections = args.only or list(SECTIONS)
    results: dict[str, Any] = {"quick": args.quick, "machine": report.machine_info(server)}
    if "engine" in sections:
        results["engine"] = await run_engine(server, engine_config, log)
    if "http" in sections:
        results["http"] = http = await run_http(server, http_config, log)
        direct = results.get("engine", {}).get("peers", {}).get("taskplane")
        if direct and http_config.n == engine_config.n:
            direct_enqueue = direct["enqueue_per_s"]["median"]
            direct_process = direct["process_per_s"]["median"]
            http["vs_direct"] = {
                "direct_enqueue_per_s": direct_enqueue,
                "direct_process_per_s": direct_process,
                "enqueue": http["enqueue_per_s"]["median"] / direct_enqueue,
                "process": http["process_per_s"]["median"] / direct_process,
            }
    if "pagination" in sections:
        results["pagination"] = await run_pagination(server, pagination_config, log)
    return results


def correct(results: dict[str, Any]) -> list[str]:
    """What went wrong (a task lost or run twice, pages that differ); empty when nothing."""
    problems = [
        f"engine peer {name}: not exactly once: {peer['checks']}"
        for name, peer in results.get("engine", {}).get("peers", {}).items()
        if not peer["exactly_once"]
    ]
    if "http" in results and not results["http"]["exactly_once"]:
        problems.append(f"http: not exactly once: {results['http']['checks']}")
    if "pagination" in results and not results["pagination"]["same_rows"]:
        problems.append("pagination: keyset and OFFSET pages differ")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    with PostgresServer(max_connections=200) as server:
        log(f"PostgreSQL on 127.0.0.1:{server.port} ({server.bin})")
        results = asyncio.run(_run(args, server))
    results["wall_s"] = time.perf_counter() - started
    data, table = report.write(results, args.results_dir)
    print(table.read_text())
    log(f"wrote {data} and {table}")
    problems = correct(results)
    for problem in problems:
        log(f"FAILED: {problem}")
    return 1 if problems else 0
