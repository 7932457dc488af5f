"""schemathesis against the four services as real processes on a real PostgreSQL, as an
admin and as a member: every check, the examples, coverage, fuzzing and stateful phases
(the stateful phase follows the links the documents declare). It is the very run a
person makes by hand (``st run <url>/openapi.json -H "Authorization: Bearer ..." --checks
all --phases examples,coverage,fuzzing,stateful``), with the example count bounded so
the whole module stays within a few minutes; the seed differs per role, so two runs
explore different paths.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskplane_testing.contract import ContractPlatform, contract_platform
from taskplane_testing.postgres import PostgresServer

#: Examples per operation and phase: enough to reach every status, small enough that
#: the four services, two roles each, take a few minutes on a busy machine.
MAX_EXAMPLES = 5
SEEDS = {"admin": 20261206, "member": 61202026}
SERVICES = ("user-service", "task-service", "notification-service", "auth-service")
ST = Path(sys.executable).with_name("st")
#: Where schemathesis.toml is, which ``st`` reads from its working directory.
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def services(postgres_server: PostgresServer) -> Iterator[ContractPlatform]:
    with contract_platform(postgres_server, "contract_schemathesis") as running:
        yield running


def st_run(url: str, token: str, seed: int) -> subprocess.CompletedProcess[str]:
    """``st run`` with every check and the four phases; its report is the output."""
    return subprocess.run(
        [
            str(ST),
            "run",
            f"{url}/openapi.json",
            "-H",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(seed),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=REPO,
    )


#: Members first, then admins; the auth-service last in each round: an admin's run
#: rotates and deletes signing keys and changes accounts, which would void the tokens
#: (and the member account) of runs after it. Each run logs in afresh.
RUNS = [(service, role) for role in ("member", "admin") for service in SERVICES]


@pytest.mark.parametrize(("service", "role"), RUNS)
def test_schemathesis_finds_nothing(services: ContractPlatform, service: str, role: str) -> None:
    token = services.admin_token() if role == "admin" else services.member_token()
    result = st_run(services.urls[service], token, SEEDS[role])
    report = result.stdout + result.stderr
    failures = report.find("= FAILURES =")
    assert result.returncode == 0, report[max(failures, 0) :][:30_000]
    if role == "admin" and service != "auth-service":
        # An admin may call everything here: a run answered only 401/403 tested nothing.
        assert "Authentication failed" not in report, report[-10_000:]
