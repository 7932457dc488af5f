"""The services' hot paths against the framework ceiling, driven by wrk (Debian's ``wrk``).

The same requests go to the real services (JWKS verification against the real
auth-service, like a deployment) and to :mod:`bench.sizing.ceiling_app` (a bare FastAPI + uvicorn
app doing the same SQL with psycopg and the same JWT check), at 1, 16 and 64 concurrent
connections: the task-service's ``GET /tasks/{id}``, a filtered list page
(``?status=pending&limit=50``) and ``POST /tasks``, the auth-service's JWKS and refresh
rotation (``POST /api/v1/auth/refresh``, each request presenting a seeded refresh token
of its own) and the user-service's ``GET /users/me``. The result per endpoint and
concurrency: requests/s, p50/p99 and service / ceiling; at the largest concurrency also
the p99 against the ceiling's (target ≤ 3) and the 5xx answers other than 503 shedding
(target none).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
import psycopg

from bench.cpu import CpuMeter
from bench.runs import Log

CLIENTS = (1, 16, 64)
TARGETS = {"get": 0.6, "list": 0.5, "post": 0.5, "jwks": 0.6, "refresh": 0.6, "me": 0.6}
#: At the largest concurrency: p99 at most this multiple of the ceiling's.
P99_TARGET = 3.0
#: The same list page on both sides.
LIST_QUERY = "/api/v1/tasks?status=pending&limit=50"
SEED_SQL = """
INSERT INTO tasks.tasks (id, title, status, priority, owner_id, tags, tags_normalized, version,
                         created_at, updated_at)
SELECT gen_random_uuid(), 'seed ' || g, (ARRAY['pending', 'completed'])[g %% 2 + 1], 1,
       %(owner)s, '{}', '{}', 1, now() - make_interval(secs => g), now()
FROM generate_series(1, %(rows)s) AS g
"""
POST_SCRIPT = """wrk.method = "POST"
wrk.body = '{"title": "bench"}'
wrk.headers["Content-Type"] = "application/json"
"""
#: Refresh tokens seeded per wrk run, thread and second of the run:
#: ``bench-<run>-<thread>-<n>`` (more than one thread completes per second).
REFRESH_TOKENS_PER_THREAD_S = 2_000
SEED_REFRESH_SQL = """
INSERT INTO auth.refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at)
SELECT gen_random_uuid(), gen_random_uuid(), %(user)s,
       encode(sha256(convert_to('bench-' || r || '-' || t || '-' || g, 'UTF8')), 'hex'),
       now(), now() + interval '1 day'
FROM unnest(%(runs)s::text[]) AS r, generate_series(0, 1) AS t,
     generate_series(1, %(tokens)s) AS g
"""
#: POSTs ``{"refresh_token": "bench-<run>-<thread>-<n>"}``, n counting up per thread
#: (``<run>``: the script's first argument), so every request rotates a fresh token.
REFRESH_SCRIPT = """local run, sent = "", 0
function request()
  sent = sent + 1
  local body = string.format('{"refresh_token": "bench-%s-%d-%d"}', run, index, sent)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""
#: Counts responses per status code in each wrk thread and prints the sum at the end
#: (``status <code> <count>``): a non-2xx count alone cannot tell shedding (503) from a
#: broken request. Each thread also learns its index (``index``, from 0).
STATUS_SCRIPT = """local threads = {}
function setup(thread) thread:set("index", #threads) table.insert(threads, thread) end
function init(args) statuses = {} run = args[1] or "" end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      total[code] = (total[code] or 0) + count
    end
  end
  for code, count in pairs(total) do io.write(string.format("status %d %d\\n", code, count)) end
end
"""
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise FileNotFoundError("wrk not found: apt-get install wrk")
    return path


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS_MS[unit]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, p50 and p99 (ms) and non-2xx count from ``wrk --latency``."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"\s50%\s+(\S+)", output)
    p99 = re.search(r"\s99%\s+(\S+)", output)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or p50 is None or p99 is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return {
        "requests_per_s": float(rate.group(1)),
        "requests": int(total.group(1)) if total else 0,
        "p50_ms": _ms(p50.group(1)),
        "p99_ms": _ms(p99.group(1)),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "statuses": {code: int(n) for code, n in re.findall(r"^status (\d+) (\d+)$", output, re.M)},
    }


def run_wrk(
    url: str, token: str, clients: int, seconds: int, script: Path, args: Sequence[str] = ()
) -> dict[str, Any]:
    """One wrk run (at most 2 threads); ``args`` go to the script's ``init``."""
    command = [
        wrk_path(),
        f"-t{min(clients, 2)}",
        f"-c{clients}",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"Authorization: Bearer {token}",
        "-s",
        str(script),
    ]
    run = subprocess.run(
        [*command, url, *(["--", *args] if args else [])],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=True,
    )
    return parse_wrk(run.stdout)


#: The request of each task-service endpoint, below its base URL (``{task_id}``: a seeded
#: task).
PATHS = {"get": "/api/v1/tasks/{task_id}", "list": LIST_QUERY, "post": "/api/v1/tasks"}
#: Every endpoint measured: the service serving it (a key of ``measure_api``'s bases) and
#: its request; the ceiling app serves all of them.
ENDPOINTS = {
    **{name: ("tasks", path) for name, path in PATHS.items()},
    "jwks": ("auth", "/.well-known/jwks.json"),
    "refresh": ("auth", "/api/v1/auth/refresh"),
    "me": ("users", "/api/v1/users/me"),
}


def wrk_scripts() -> dict[str, Path]:
    """The Lua script of each endpoint: status counting, plus the body for ``post`` and
    ``refresh``."""
    scripts = Path(tempfile.mkdtemp(prefix="taskplane-wrk-"))
    bodies = {"post": POST_SCRIPT, "refresh": REFRESH_SCRIPT}
    for endpoint in ENDPOINTS:
        (scripts / f"{endpoint}.lua").write_text(bodies.get(endpoint, "") + STATUS_SCRIPT)
    return {endpoint: scripts / f"{endpoint}.lua" for endpoint in ENDPOINTS}


def refresh_runs(clients: Sequence[int] = CLIENTS) -> list[str]:
    """The token prefix of each refresh run: one per side and concurrency."""
    return [f"{side}{n}" for side in ("api", "ceiling") for n in clients]


def seed_refresh_tokens(database_url: str, user: str, runs: Sequence[str], seconds: int) -> None:
    """Refresh tokens of ``user`` for every run in ``runs`` (``REFRESH_SCRIPT``'s) of
    ``seconds`` each."""
    tokens = REFRESH_TOKENS_PER_THREAD_S * seconds
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute(SEED_REFRESH_SQL, {"user": user, "runs": list(runs), "tokens": tokens})
        db.execute("VACUUM (ANALYZE) auth.refresh_tokens")


def at_most_clients(endpoints: dict[str, Any]) -> dict[str, Any]:
    """Per endpoint at the largest concurrency: p99 over the ceiling's and the 5xx other
    than 503 (shedding), against their targets."""
    verdicts = {}
    for endpoint, per_clients in endpoints.items():
        data = per_clients[str(max(int(c) for c in per_clients))]
        statuses = data["api"]["statuses"]
        errors = sum(n for code, n in statuses.items() if code.startswith("5") and code != "503")
        p99 = data["api"]["p99_ms"] / max(data["ceiling"]["p99_ms"], 1e-9)
        verdicts[endpoint] = {
            "p99_over_ceiling": p99,
            "shed_503": statuses.get("503", 0),
            "other_5xx": errors,
            "met": p99 <= P99_TARGET and errors == 0,
        }
    return verdicts


def idle_cpu(pids: dict[str, int], window_s: float = 5.0) -> dict[str, float]:
    """CPU seconds per second each process spends without requests (background loops)."""
    meter = CpuMeter({name: [pid] for name, pid in pids.items()})
    meter.start()
    time.sleep(window_s)
    return {name: seconds / window_s for name, seconds in meter.stop().items()}


def metered_wrk(
    url: str,
    token: str,
    clients: int,
    seconds: int,
    script: Path,
    pid: int,
    idle_s_per_s: float,
    args: Sequence[str] = (),
) -> dict[str, Any]:
    """:func:`run_wrk`, plus the process's CPU per request (``cpu_ms_per_request``: its
    user + system time over the run less its idle background CPU, over the requests wrk
    completed). On a shared machine requests/s swing with other people's load while CPU
    per request barely moves."""
    meter = CpuMeter({"process": [pid]})
    meter.start()
    started = time.perf_counter()
    run = run_wrk(url, token, clients, seconds, script, args)
    busy_s = meter.stop()["process"] - idle_s_per_s * (time.perf_counter() - started)
    run["cpu_ms_per_request"] = busy_s * 1e3 / max(run["requests"], 1)
    return run


def measure_api(
    bases: dict[str, str],
    pids: dict[str, int],
    token: str,
    task_id: str,
    seconds: int,
    log: Log,
    auth_database_url: str,
) -> dict[str, Any]:
    """wrk runs of every endpoint x concurrency x side (``api``: the service named in
    ``ENDPOINTS``, one of ``bases``; ``ceiling``: ``bases["ceiling"]``), interleaved, with
    each side's CPU per request (``pids``: the process behind each of ``bases``).
    ``auth_database_url``: the auth-service's database, where the refresh runs' tokens
    (of the token's subject) are seeded first."""
    subject = jwt.decode(token, options={"verify_signature": False})["sub"]
    seed_refresh_tokens(auth_database_url, subject, refresh_runs(), seconds)
    scripts = wrk_scripts()
    idle = idle_cpu(pids)
    endpoints: dict[str, Any] = {}
    for endpoint, (service, template) in ENDPOINTS.items():
        path = template.format(task_id=task_id)
        endpoints[endpoint] = {}
        for clients in CLIENTS:
            runs = {
                side: metered_wrk(
                    bases[base] + path,
                    token,
                    clients,
                    seconds,
                    scripts[endpoint],
                    pids[base],
                    idle[base],
                    [f"{side}{clients}"] if endpoint == "refresh" else [],
                )
                for side, base in (("api", service), ("ceiling", "ceiling"))
            }
            ratio = runs["api"]["requests_per_s"] / runs["ceiling"]["requests_per_s"]
            cpu = runs["ceiling"]["cpu_ms_per_request"] / runs["api"]["cpu_ms_per_request"]
            endpoints[endpoint][str(clients)] = {
                **runs,
                "api_over_ceiling": ratio,
                "cpu_ceiling_over_api": cpu,
            }
            log(
                f"api: {endpoint} x{clients}: {service} {runs['api']['requests_per_s']:,.0f}/s"
                f" p50 {runs['api']['p50_ms']:.1f} ms, ceiling"
                f" {runs['ceiling']['requests_per_s']:,.0f}/s: ratio {ratio:.2f};"
                f" CPU ms/request {runs['api']['cpu_ms_per_request']:.2f} against"
                f" {runs['ceiling']['cpu_ms_per_request']:.2f}: ratio {cpu:.2f}"
            )
    verdicts = at_most_clients(endpoints)
    for endpoint, verdict in verdicts.items():
        log(
            f"api: {endpoint} x{max(CLIENTS)}: p99 {verdict['p99_over_ceiling']:.2f}x the"
            f" ceiling's, {verdict['shed_503']} 503 shed, {verdict['other_5xx']} other 5xx"
        )
    return {
        "seconds_per_run": seconds,
        "clients": list(CLIENTS),
        "idle_cpu_s_per_s": idle,
        "targets_at_16": TARGETS,
        "endpoints": endpoints,
        "at_most_clients": verdicts,
        "targets_at_most_clients": {"p99_over_ceiling": P99_TARGET, "other_5xx": 0},
    }
