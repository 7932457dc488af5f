"""Where a service spends its CPU under wrk: py-spy on the real process.

``python -m bench.sizing.profile_api [--endpoint get|list|post|jwks|me] [--clients 16]
[--seconds 20]`` starts the platform on a throw-away PostgreSQL (the sizing run's set-up:
seeded tasks, JWKS verification against the real auth-service; a user-service for
``me``), drives one endpoint with wrk and records the service behind it (the
task-service, the auth-service for ``jwks``, the user-service for ``me``) with ``py-spy
record`` meanwhile. It writes the collapsed stacks
(``profile-api-<endpoint>.txt``, for ``flamegraph.pl`` or speedscope) and
``latest-profile-api-<endpoint>.md``: CPU samples by layer (the library the sampled frame
is in) and the functions with the most samples, inclusive and self. Only samples of the
thread holding the GIL count (``py-spy --gil``): what the process spends its CPU on.

py-spy reads the target's memory: it needs ptrace rights over it (root, or
``CAP_SYS_PTRACE`` in a container).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import jwt
import psycopg

from bench.sizing.api_ceiling import ENDPOINTS, SEED_SQL, run_wrk, wrk_scripts
from bench.sizing.run import RESULTS
from taskplane_testing.platform import Platform, running_platform
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import ServiceProcess

#: The endpoints profiled (the auth-service's refresh needs tokens seeded per run).
PROFILED = ("get", "list", "post", "jwks", "me")

#: Layer of a frame, by the first pattern its file path matches (order matters).
LAYERS = (
    ("ours", re.compile(r"(task|auth|user)_service|taskplane_common|taskplane_client")),
    ("sqlalchemy", re.compile(r"sqlalchemy")),
    ("psycopg", re.compile(r"psycopg")),
    ("pydantic", re.compile(r"pydantic")),
    ("fastapi/starlette", re.compile(r"fastapi|starlette")),
    # py-spy names the frames of a namespace package's modules without it: the
    # OpenTelemetry SDK's ``trace/__init__.py``, ``attributes/``, ``context/``...
    ("opentelemetry", re.compile(r"opentelemetry|^(trace|attributes|context|propagate|util)/")),
    ("jwt/cryptography", re.compile(r"jwt|cryptography")),
    ("prometheus_client", re.compile(r"prometheus_client")),
    ("uvicorn/h11", re.compile(r"uvicorn|h11|httptools")),
    ("logging", re.compile(r"/logging/|pythonjsonlogger")),
    ("asyncio", re.compile(r"asyncio|uvloop")),
)
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]+)(?::\d+)?\)$")
TOP = 25


def layer(frame: str) -> str:
    match = FRAME.match(frame)
    path = match.group("file") if match else frame
    return next((name for name, pattern in LAYERS if pattern.search(path)), "other")


def function_name(frame: str) -> str:
    """``function (file)`` without the line number: one entry per function."""
    match = FRAME.match(frame)
    if match is None:
        return frame
    short = "/".join(Path(match.group("file")).parts[-2:])
    return f"{match.group('function')} ({short})"


def summarise(collapsed: str) -> dict[str, Any]:
    """Samples by layer of the leaf frame, and per function inclusive and self."""
    total = 0
    layers: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        layers[layer(frames[-1])] += count
        self_time[function_name(frames[-1])] += count
        for name in {function_name(frame) for frame in frames}:
            inclusive[name] += count
    return {
        "samples": total,
        "layers": dict(layers.most_common()),
        "inclusive": dict(inclusive.most_common(TOP)),
        "self": dict(self_time.most_common(TOP)),
    }


def table(summary: dict[str, Any], title: str) -> str:
    total = max(summary["samples"], 1)
    lines = [f"# {title}", "", f"{summary['samples']:,} samples.", ""]
    for heading, key in (
        ("Layer of the sampled frame", "layers"),
        ("Functions, inclusive", "inclusive"),
        ("Functions, self", "self"),
    ):
        lines += [f"## {heading}", "", "| | share |", "| --- | --- |"]
        lines += [f"| `{name}` | {count / total:.1%} |" for name, count in summary[key].items()]
        lines.append("")
    return "\n".join(lines)


def _py_spy() -> str:
    """The py-spy installed next to this interpreter (``.venv/bin``), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise FileNotFoundError("py-spy not found: pip install py-spy")
    return found


def _target(
    stack: ExitStack, server: PostgresServer, platform: Platform, service: str
) -> ServiceProcess:
    """The process behind ``service`` (``ENDPOINTS``' name): the platform's, or a
    user-service started on a database of its own."""
    if service == "users":
        users = ServiceProcess(
            "user_service",
            {
                "DATABASE_URL": server.create_database("profile_users"),
                "TASKPLANE_ENVIRONMENT": "development",
                "TASKPLANE_LOG_LEVEL": "WARNING",
                "OTEL_SERVICE_NAME": "user-service",
                "TASKPLANE_JWKS_URL": f"{platform.auth.url}/.well-known/jwks.json",
            },
        )
        return stack.enter_context(users)
    return platform.auth if service == "auth" else platform.tasks


def profile(endpoint: str, clients: int, seconds: int, results_dir: Path) -> Path:
    """Run wrk on ``endpoint`` while py-spy records its service; the table's path."""
    service, template = ENDPOINTS[endpoint]
    with (
        PostgresServer(max_connections=200, durable=False) as server,
        running_platform(server, "profile") as platform,
        ExitStack() as stack,
    ):
        token = platform.admin_token()
        owner = jwt.decode(token, options={"verify_signature": False})["sub"]
        with psycopg.connect(server.url("profile"), autocommit=True) as db:
            db.execute(SEED_SQL, {"owner": owner, "rows": 2_000})
            row = db.execute("SELECT id FROM tasks.tasks LIMIT 1").fetchone()
            db.execute("VACUUM (ANALYZE) tasks.tasks")
        assert row is not None
        target = _target(stack, server, platform, service)
        assert target.process is not None
        url = target.url + template.format(task_id=row[0])
        stacks = Path(tempfile.mkstemp(prefix="taskplane-pyspy-", suffix=".txt")[1])
        spy = [
            _py_spy(),
            "record",
            "--pid",
            str(target.process.pid),
            "--duration",
            str(seconds),
            "--rate",
            "200",
            # Only the thread holding the GIL: a thread in a system call (the socket
            # writes) or waiting for the GIL is not spending the process's CPU.
            "--gil",
            "--format",
            "raw",
            "--output",
            str(stacks),
        ]
        result: dict[str, Any] = {}
        load = threading.Thread(
            target=lambda: result.update(
                run_wrk(url, token, clients, seconds, wrk_scripts()[endpoint])
            )
        )
        load.start()
        subprocess.run(spy, check=True, capture_output=True, timeout=seconds + 120)
        load.join()
    summary = summarise(stacks.read_text())
    results_dir.mkdir(parents=True, exist_ok=True)
    collapsed = results_dir / f"profile-api-{endpoint}.txt"
    collapsed.write_text(stacks.read_text())
    title = (
        f"{target.module.replace('_', '-')} under wrk: {endpoint} x{clients}, {seconds} s,"
        f" {result.get('requests_per_s', 0):,.0f} requests/s, statuses {result.get('statuses')}"
    )
    path = results_dir / f"latest-profile-api-{endpoint}.md"
    path.write_text(table(summary, title))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sizing.profile_api", description=__doc__)
    parser.add_argument("--endpoint", choices=PROFILED, default="get")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    path = profile(args.endpoint, args.clients, args.seconds, args.results_dir)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
