"""Every command line of the repository, run as a real process: ``--help`` prints usage
and exits 0 without starting anything; missing or unusable configuration is one line on
stderr naming what to fix, never a traceback.

The environment of each run is scrubbed of the caller's taskplane settings and points
``HOME`` at an empty directory, so no ``DATABASE_URL``, kubeconfig or CLI login of the
developer's machine leaks in; an unreachable database is a port this test holds bound
without listening (the connection is refused at once, and no one else can take it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from taskplane_testing import REPO_ROOT

#: Far more than any of these needs (an import and a parse); a busy machine only slows it.
TIMEOUT_S = 180
SERVICES = ("auth_service", "user_service", "task_service", "notification_service")
PY = [sys.executable]

#: Every command line a user runs, by a readable id.
HELP: dict[str, list[str]] = {
    **{f"{service} serve|migrate": [*PY, "-m", service] for service in SERVICES},
    "console_service serve|migrate": [*PY, "-m", "console_service"],
    **{f"{service} serve": [*PY, "-m", service, "serve"] for service in SERVICES[:1]},
    "notification_service.keys": [*PY, "-m", "notification_service.keys"],
    "taskplane_operator": [*PY, "-m", "taskplane_operator"],
    "taskplane-operator": [str(Path(sys.executable).parent / "taskplane-operator")],
    "taskplane_worker": [*PY, "-m", "taskplane_worker"],
    "taskplane": [str(Path(sys.executable).parent / "taskplane")],
    "bench": [*PY, "-m", "bench"],
    "bench.sizing": [*PY, "-m", "bench.sizing"],
    "bench.sizing.api_compare": [*PY, "-m", "bench.sizing.api_compare"],
    "bench.sizing.profile_api": [*PY, "-m", "bench.sizing.profile_api"],
    "bench.queues.runner": [*PY, "-m", "bench.queues.runner"],
    "scripts/run_local.py": [*PY, "scripts/run_local.py"],
    "scripts.openapi": [*PY, "-m", "scripts.openapi"],
    "scripts.dashboards": [*PY, "-m", "scripts.dashboards"],
    "console_service.build": [*PY, "-m", "console_service.build"],
    "taskplane_testing.contract": [*PY, "-m", "taskplane_testing.contract"],
}


@dataclass(frozen=True)
class Broken:
    """A command line run with something missing or wrong, and what its one line says."""

    argv: list[str]
    names: str
    code: int = 2
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def nowhere() -> Iterator[str]:
    """``127.0.0.1:PORT``, bound by this test and never listened on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without anything that configures taskplane."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TASKPLANE_", "OTEL_", "KOPF_"))
        and name not in {"DATABASE_URL", "KUBECONFIG", "XDG_CONFIG_HOME"}
    }
    return {**kept, "HOME": str(home), "TASKPLANE_CONFIG_DIR": str(home / "taskplane"), **extra}


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


#: Settings none of the programs accepts: ``--help`` reads none of them.
UNUSABLE = {
    "DATABASE_URL": "mysql://nowhere/db",
    "TASKPLANE_PORT": "eighty",
    "TASKPLANE_HEALTH_PORT": "eighty",
    "TASKPLANE_WORKER_CONCURRENCY": "many",
}


@pytest.mark.parametrize("argv", HELP.values(), ids=HELP.keys())
def test_help_prints_usage_and_starts_nothing(argv: list[str], tmp_path: Path) -> None:
    done = run([*argv, "--help"], clean_env(tmp_path, **UNUSABLE))
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout.lower()
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "taskplane").exists(), "--help wrote the CLI's configuration"


def broken_cases(nowhere: str) -> dict[str, Broken]:
    """Each command line without the configuration it needs, or with an unusable one."""
    database = f"postgresql://taskplane:secret@{nowhere}/taskplane"
    kek = "TASKPLANE_SECRETS_KEK_FILE"
    worker = [*PY, "-m", "taskplane_worker", "--queue", "q", "--handler", "builtin:noop"]
    cli = [*PY, "-m", "taskplane_cli"]
    return {
        **{f"{s} migrate": Broken([*PY, "-m", s, "migrate"], "DATABASE_URL") for s in SERVICES},
        **{f"{s} serve": Broken([*PY, "-m", s, "serve"], "DATABASE_URL") for s in SERVICES},
        "task_service migrate, database unreachable": Broken(
            [*PY, "-m", "task_service", "migrate"], "DATABASE_URL", 1, {"DATABASE_URL": database}
        ),
        "user_service migrate, not a database URL": Broken(
            [*PY, "-m", "user_service", "migrate"], "DATABASE_URL", 2, {"DATABASE_URL": "mysql://x"}
        ),
        "task_service serve, no JWKS": Broken(
            [*PY, "-m", "task_service", "serve"],
            "TASKPLANE_JWKS_URL",
            2,
            {"DATABASE_URL": database},
        ),
        "console_service serve, no JWKS": Broken(
            [*PY, "-m", "console_service", "serve"], "TASKPLANE_JWKS_URL"
        ),
        "auth_service serve, a bad setting": Broken(
            [*PY, "-m", "auth_service", "serve"],
            "TASKPLANE_DB_POOL_SIZE",
            2,
            {"TASKPLANE_DB_POOL_SIZE": "many"},
        ),
        "keys status": Broken([*PY, "-m", "notification_service.keys", "status"], "DATABASE_URL"),
        "keys rotate": Broken([*PY, "-m", "notification_service.keys", "rotate"], "DATABASE_URL"),
        "keys status, database unreachable": Broken(
            [*PY, "-m", "notification_service.keys", "status"],
            "DATABASE_URL",
            1,
            {"DATABASE_URL": database},
        ),
        "keys rotate, keyring file missing": Broken(
            [*PY, "-m", "notification_service.keys", "rotate"],
            kek,
            2,
            {"DATABASE_URL": database, kek: "/nonexistent/kek"},
        ),
        "operator, no Kubernetes credentials": Broken(
            [*PY, "-m", "taskplane_operator"], "KUBECONFIG"
        ),
        "operator, a bad setting": Broken(
            [*PY, "-m", "taskplane_operator"],
            "TASKPLANE_HEALTH_PORT",
            2,
            {"TASKPLANE_HEALTH_PORT": "eighty"},
        ),
        "worker, a bad setting": Broken(
            worker, "TASKPLANE_WORKER_CONCURRENCY", 2, {"TASKPLANE_WORKER_CONCURRENCY": "x"}
        ),
        "worker, API unreachable": Broken(
            [*worker, "--metrics-port", "0", "--startup-timeout", "1"],
            "TASKPLANE_API_URL",
            1,
            {"TASKPLANE_API_URL": f"http://{nowhere}"},
        ),
        "taskplane, API unreachable": Broken(
            [*cli, "tasks", "list"],
            "TASKPLANE_API_URL",
            1,
            {"TASKPLANE_API_URL": f"http://{nowhere}", "TASKPLANE_TOKEN": "a-token"},
        ),
        "taskplane, not logged in": Broken([*cli, "tasks", "list"], "taskplane login", 1),
        "taskplane, not a URL": Broken(
            [*cli, "--api-url", "localhost", "tasks", "list"], "--api-url", 2
        ),
    }


BROKEN_IDS = list(broken_cases("127.0.0.1:1"))


@pytest.mark.parametrize("case", BROKEN_IDS)
def test_missing_configuration_is_one_line(case: str, nowhere: str, tmp_path: Path) -> None:
    broken = broken_cases(nowhere)[case]
    done = run(broken.argv, clean_env(tmp_path, LOG_LEVEL="WARNING", **broken.env))
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode == broken.code, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert broken.names in line
    assert "secret" not in line, "the database password leaked"


BAD_FLAGS: dict[str, list[str]] = {
    "task_service serve --port": [*PY, "-m", "task_service", "serve", "--port", "http"],
    "keys rotate --batch": [*PY, "-m", "notification_service.keys", "rotate", "--batch", "0"],
    "taskplane_operator --namespace": [*PY, "-m", "taskplane_operator", "--namespace", "a"],
    "taskplane_worker --concurrency": [
        *PY,
        "-m",
        "taskplane_worker",
        "--queue",
        "q",
        "--handler",
        "builtin:noop",
        "--concurrency",
        "0",
    ],
    "taskplane tasks list --limit": [*PY, "-m", "taskplane_cli", "tasks", "list", "--limit", "x"],
    "bench --only": [*PY, "-m", "bench", "--only", "everything"],
    "scripts.openapi --write": [*PY, "-m", "scripts.openapi", "--write", "docs"],
}


@pytest.mark.parametrize("argv", BAD_FLAGS.values(), ids=BAD_FLAGS.keys())
def test_a_bad_flag_is_a_usage_error(argv: list[str], tmp_path: Path) -> None:
    """The library's usage error (argparse's or click's): exit 2, the flag (the last but
    one argument) named on the last line, no traceback."""
    done = run(argv, clean_env(tmp_path))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert argv[-2] in done.stderr.strip().splitlines()[-1]
