"""What a change to the services bought: each service at another commit and as checked
out, side by side against the same ceiling, on one server.

``python -m bench.sizing.api_compare --before <commit> [--after <commit>] [--seconds 5]
[--repeats 2] [--endpoints get list post jwks me]`` exports ``apps/`` of ``<commit>``
(``git archive``) and starts the services behind the endpoints on it (``PYTHONPATH`` ahead
of the editable installs: the task-service for ``get``/``list``/``post``, the
auth-service for ``jwks``, the user-service for ``me``) next to the checked-out ones (or
those of ``--after``), on the same databases, auth-service (JWKS) and seeded rows as the
sizing run, with the ceiling app (:mod:`bench.sizing.ceiling_app`). wrk then drives each
endpoint and concurrency on the three sides in turn (interleaved, so a change of machine
load hits all three alike), ``repeats`` times; the table shows the median requests/s of
each side, ``before`` / ceiling, ``after`` / ceiling and after / before. Results in
``latest-api-compare.md`` and ``<UTC timestamp>-api-compare.json``.

Each side's process CPU per request is measured too (user + system time of the process
over its wrk run, less what it spends idle in that time (its background loops, measured
for 5 s before the first point), / the requests wrk completed): on a machine shared with other work,
requests/s swing with the load while CPU per request barely moves, and ceiling CPU /
service CPU per request is the throughput ratio the service would reach where it, not
PostgreSQL or the load generator, is the bottleneck.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import jwt
import psycopg

from bench.sizing.api_ceiling import (
    CLIENTS,
    ENDPOINTS,
    SEED_SQL,
    idle_cpu,
    metered_wrk,
    wrk_scripts,
)
from bench.sizing.run import RESULTS, ceiling_app
from taskplane_testing.platform import running_platform
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import ServiceProcess

REPO = Path(__file__).resolve().parents[2]
SIDES = ("before", "after", "ceiling")
#: The endpoints compared by default (the auth-service's refresh needs tokens seeded per
#: side and run: the sizing run measures it).
COMPARED = ("get", "list", "post", "jwks", "me")
#: Each service of ``ENDPOINTS``: its module, source directory under ``apps/`` and name.
SERVICES = {
    "tasks": ("task_service", "task-service"),
    "auth": ("auth_service", "auth-service"),
    "users": ("user_service", "user-service"),
}


def export_apps(commit: str) -> Path:
    """``apps/`` of ``commit`` in a temporary directory (its task-service and common)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit, "apps"],
        capture_output=True,
        check=True,
    ).stdout
    target = Path(tempfile.mkdtemp(prefix=f"taskplane-{commit[:12]}-"))
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / "apps"


def _service(
    stack: ExitStack,
    service: str,
    commit: str | None,
    env: dict[str, str],
    checked_out: ServiceProcess | None,
) -> tuple[str, int]:
    """Base URL and pid of ``service`` (a key of ``SERVICES``) at ``commit``, or as checked
    out when None (``checked_out`` if already running), started with ``env``."""
    module, directory = SERVICES[service]
    env = {
        **env,
        "TASKPLANE_ENVIRONMENT": "development",
        "TASKPLANE_LOG_LEVEL": "WARNING",
        "OTEL_SERVICE_NAME": directory,
    }
    if commit is not None:
        apps = export_apps(commit)
        env["PYTHONPATH"] = ":".join(str(apps / name) for name in (directory, "common", "client"))
    process = checked_out if commit is None and checked_out is not None else None
    if process is None:
        process = stack.enter_context(ServiceProcess(module, env))
    assert process.process is not None
    return process.url, process.process.pid


def compare(
    before: str,
    after: str | None,
    seconds: int,
    repeats: int,
    seed_rows: int,
    clients: Sequence[int] = CLIENTS,
    endpoints: Sequence[str] = COMPARED,
) -> dict[str, Any]:
    with (
        PostgresServer(max_connections=200, durable=False) as server,
        running_platform(server, "compare") as platform,
        ExitStack() as stack,
    ):
        database_url = server.url("compare")
        users_url = server.create_database("compare_users")
        jwks = f"{platform.auth.url}/.well-known/jwks.json"
        env = {
            "tasks": {"DATABASE_URL": database_url, "TASKPLANE_JWKS_URL": jwks},
            "auth": {"DATABASE_URL": database_url},
            "users": {"DATABASE_URL": users_url, "TASKPLANE_JWKS_URL": jwks},
        }
        running = {"tasks": platform.tasks, "auth": platform.auth}
        services = {ENDPOINTS[endpoint][0] for endpoint in endpoints}
        # The checked-out user-service first: its migrations create the tables the
        # ceiling's /me writes.
        sides = {
            service: {
                "after": _service(stack, service, after, env[service], running.get(service)),
                "before": _service(stack, service, before, env[service], running.get(service)),
            }
            for service in sorted(services, key=lambda name: name != "users")
        }
        ceiling = stack.enter_context(ceiling_app(database_url, jwks, users_url))
        token = platform.admin_token()
        owner = jwt.decode(token, options={"verify_signature": False})["sub"]
        with psycopg.connect(database_url, autocommit=True) as db:
            db.execute(SEED_SQL, {"owner": owner, "rows": seed_rows})
            row = db.execute("SELECT id FROM tasks.tasks LIMIT 1").fetchone()
            db.execute("VACUUM (ANALYZE) tasks.tasks")
        assert row is not None
        scripts = wrk_scripts()
        pids = {
            f"{service} {side}": pid
            for service, by in sides.items()
            for side, (_, pid) in by.items()
        }
        idle = idle_cpu({**pids, "ceiling": ceiling[1]})
        points: dict[str, Any] = {}
        for endpoint in endpoints:
            service, template = ENDPOINTS[endpoint]
            path = template.format(task_id=row[0])
            targets = {**sides[service], "ceiling": ceiling}
            names = {side: f"{service} {side}" for side in ("before", "after")}
            names["ceiling"] = "ceiling"
            for concurrency in clients:
                runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
                for _ in range(repeats):
                    for side in SIDES:
                        base, pid = targets[side]
                        run = metered_wrk(
                            base + path,
                            token,
                            concurrency,
                            seconds,
                            scripts[endpoint],
                            pid,
                            idle[names[side]],
                        )
                        runs[side].append(run)
                name = f"{endpoint} x{concurrency}"
                points[name] = summarise(runs)
                print(f"{name}: {points[name]}", flush=True)
    return {
        "before": before,
        "after": after or "checked out",
        "idle_cpu_s_per_s": idle,
        "seconds": seconds,
        "repeats": repeats,
        "points": points,
    }


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Median requests/s per side, the ratios, and every non-2xx by side and status."""
    rate = {side: statistics.median(r["requests_per_s"] for r in runs[side]) for side in SIDES}
    cpu = {side: statistics.median(r["cpu_ms_per_request"] for r in runs[side]) for side in SIDES}
    statuses = {
        side: {code: sum(r["statuses"].get(code, 0) for r in runs[side]) for code in _codes(runs)}
        for side in SIDES
    }
    return {
        "requests_per_s": rate,
        "p99_ms": {side: statistics.median(r["p99_ms"] for r in runs[side]) for side in SIDES},
        "before_over_ceiling": rate["before"] / rate["ceiling"],
        "after_over_ceiling": rate["after"] / rate["ceiling"],
        "after_over_before": rate["after"] / rate["before"],
        "cpu_ms_per_request": cpu,
        "cpu_before_over_ceiling": cpu["ceiling"] / cpu["before"],
        "cpu_after_over_ceiling": cpu["ceiling"] / cpu["after"],
        "non_2xx": {
            side: {c: n for c, n in counts.items() if not c.startswith("2") and n}
            for side, counts in statuses.items()
        },
    }


def _codes(runs: dict[str, list[dict[str, Any]]]) -> set[str]:
    return {code for side in runs.values() for r in side for code in r["statuses"]}


def table(result: dict[str, Any]) -> str:
    lines = [
        f"# The services before ({result['before']}) and after ({result['after']}),"
        " against the ceiling",
        "",
        f"wrk {result['seconds']} s a point, median of {result['repeats']}, interleaved.",
        "",
        "Requests/s (before, after, ceiling) and their ratios; CPU ms per request of each"
        " process and ceiling CPU / service CPU per request.",
        "",
        "| point | before/s | after/s | ceiling/s | before/ceiling | after/ceiling"
        " | after/before | CPU ms/request b / a / c | CPU ratio before | CPU ratio after"
        " | after p99 ms | ceiling p99 ms | non-2xx |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, p in result["points"].items():
        rate, cpu = p["requests_per_s"], p["cpu_ms_per_request"]
        lines.append(
            f"| {name} | {rate['before']:,.0f} | {rate['after']:,.0f} | {rate['ceiling']:,.0f}"
            f" | {p['before_over_ceiling']:.2f} | {p['after_over_ceiling']:.2f}"
            f" | {p['after_over_before']:.2f}"
            f" | {cpu['before']:.2f} / {cpu['after']:.2f} / {cpu['ceiling']:.2f}"
            f" | {p['cpu_before_over_ceiling']:.2f} | {p['cpu_after_over_ceiling']:.2f}"
            f" | {p['p99_ms']['after']:.1f}"
            f" | {p['p99_ms']['ceiling']:.1f} | {p['non_2xx']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sizing.api_compare", description=__doc__)
    parser.add_argument("--before", required=True, help="the commit to compare against")
    parser.add_argument("--after", help="the commit to compare (default: as checked out)")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed-rows", type=int, default=2_000)
    parser.add_argument("--clients", type=int, nargs="+", default=list(CLIENTS))
    parser.add_argument("--endpoints", nargs="+", choices=COMPARED, default=list(COMPARED))
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = compare(
        args.before,
        args.after,
        args.seconds,
        args.repeats,
        args.seed_rows,
        args.clients,
        args.endpoints,
    )
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (args.results_dir / f"{stamp}-api-compare.json").write_text(json.dumps(result, indent=2))
    text = table(result)
    (args.results_dir / "latest-api-compare.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
