"""The services' hot paths against the framework ceiling, driven by wrk (Debian's ``wrk``).

The same requests go to the real services (JWKS verification against the real
auth-service, like a deployment) and to :mod:`bench.sizing.ceiling_app` (a bare FastAPI + uvicorn
app doing the same SQL with psycopg and the same JWT check), at 1, 16 and 64 concurrent
connections: the task-service's ``GET /tasks/{id}``, a filtered list page
(``?status=pending&limit=50``) and ``POST /tasks``, the auth-service's JWKS and the
user-service's ``GET /users/me``. The result per endpoint and concurrency: requests/s,
p50/p99 and service / ceiling.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.runs import Log

CLIENTS = (1, 16, 64)
TARGETS = {"get": 0.6, "list": 0.5, "post": 0.5, "jwks": 0.6, "me": 0.6}
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
#: Counts responses per status code in each wrk thread and prints the sum at the end
#: (``status <code> <count>``): a non-2xx count alone cannot tell shedding (503) from a
#: broken request.
STATUS_SCRIPT = """local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
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


def run_wrk(url: str, token: str, clients: int, seconds: int, script: Path) -> dict[str, Any]:
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
        [*command, url], capture_output=True, text=True, timeout=seconds + 120, check=True
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
    "me": ("users", "/api/v1/users/me"),
}


def wrk_scripts() -> dict[str, Path]:
    """The Lua script of each endpoint: status counting, plus the body for ``post``."""
    scripts = Path(tempfile.mkdtemp(prefix="taskplane-wrk-"))
    (scripts / "read.lua").write_text(STATUS_SCRIPT)
    (scripts / "post.lua").write_text(POST_SCRIPT + STATUS_SCRIPT)
    return {
        endpoint: scripts / f"{'post' if endpoint == 'post' else 'read'}.lua"
        for endpoint in ENDPOINTS
    }


def measure_api(
    bases: dict[str, str], token: str, task_id: str, seconds: int, log: Log
) -> dict[str, Any]:
    """wrk runs of every endpoint x concurrency x side (``api``: the service named in
    ``ENDPOINTS``, one of ``bases``; ``ceiling``: ``bases["ceiling"]``), interleaved."""
    scripts = wrk_scripts()
    endpoints: dict[str, Any] = {}
    for endpoint, (service, template) in ENDPOINTS.items():
        path = template.format(task_id=task_id)
        endpoints[endpoint] = {}
        for clients in CLIENTS:
            runs = {
                side: run_wrk(bases[base] + path, token, clients, seconds, scripts[endpoint])
                for side, base in (("api", service), ("ceiling", "ceiling"))
            }
            ratio = runs["api"]["requests_per_s"] / runs["ceiling"]["requests_per_s"]
            endpoints[endpoint][str(clients)] = {**runs, "api_over_ceiling": ratio}
            log(
                f"api: {endpoint} x{clients}: {service} {runs['api']['requests_per_s']:,.0f}/s"
                f" p50 {runs['api']['p50_ms']:.1f} ms, ceiling"
                f" {runs['ceiling']['requests_per_s']:,.0f}/s: ratio {ratio:.2f}"
            )
    return {
        "seconds_per_run": seconds,
        "clients": list(CLIENTS),
        "targets_at_16": TARGETS,
        "endpoints": endpoints,
    }
