"""The auth-service started before its database answers: it serves at once (``/healthz``
200, ``/readyz`` 503, every signing-key endpoint a 503 problem, also while the schema is
still missing), does its start-up work (a signing key, the bootstrap admin) once
PostgreSQL answers and is migrated, and stops promptly while it is still retrying. Real
processes on a real PostgreSQL server, stopped at first.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import psycopg
import pytest

from taskplane_common.migrations import upgrade
from taskplane_testing.http import assert_problem
from taskplane_testing.postgres import PostgresServer, free_port
from taskplane_testing.processes import process_env, stop_process, wait_until

#: Never logged, never in an answer (trust authentication lets any password in).
DB_PASSWORD = "s3cret-db-passw0rd"
ADMIN_EMAIL = "boss@example.com"
ADMIN_PASSWORD = "a-long-bootstrap-password"
#: How long recovery may take once the database is migrated: the retry pause is at most
#: 10 s, so this is generous on a busy machine.
RECOVERY_BOUND_S = 60.0
#: Far more than a stop takes; the connection attempt a stop interrupts would take 60 s.
STOP_BOUND_S = 30.0


@dataclass
class Replica:
    """One ``python -m auth_service serve`` process, its output kept in a file."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=10)

    def is_ready(self) -> bool:
        return self.get("/readyz").status_code == 200

    def token(self) -> httpx.Response:
        return httpx.post(
            f"{self.url}/api/v1/auth/token",
            data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            timeout=30,
        )


def start_replica(database_url: str, **env: str) -> Replica:
    """Start the service (no ``migrate``: the database is not there) and wait until it
    answers ``/healthz``."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="auth_service-", suffix=".log")[1])
    settings = {
        "DATABASE_URL": database_url,
        "TASKPLANE_ENVIRONMENT": "development",
        "TASKPLANE_LOG_LEVEL": "INFO",
        "TASKPLANE_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
        "TASKPLANE_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "TASKPLANE_ARGON2_TIME_COST": "1",
        "TASKPLANE_ARGON2_MEMORY_KIB": "1024",
        **env,
    }
    argv = [sys.executable, "-m", "auth_service", "serve", "--host", "127.0.0.1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*argv, "--port", str(port)],
            env=process_env("auth_service", settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    replica = Replica(process, f"http://127.0.0.1:{port}", log)

    def alive_and_live() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the auth-service exited:\n{replica.output()}")
        try:
            return replica.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(alive_and_live, "the auth-service to answer /healthz")
    return replica


def stopped_cleanly(replica: Replica) -> str:
    """SIGTERM the replica, wait for it, and return its whole log."""
    replica.process.send_signal(signal.SIGTERM)
    code = replica.process.wait(timeout=STOP_BOUND_S)
    output = replica.output()
    # uvicorn ends by re-raising the signal it handled: killed by SIGTERM, after a clean
    # shutdown (a SIGKILL or a crash would be another code).
    assert code in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert "Task was destroyed" not in output
    assert "Traceback" not in output
    assert DB_PASSWORD not in output
    return output


def assert_unavailable(response: httpx.Response) -> None:
    """A 503 problem of the kind a database outage answers."""
    assert assert_problem(response, 503)["type"].endswith("/database-unavailable")
    assert DB_PASSWORD not in response.text


@pytest.fixture
def stopped_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster created but not started; the test starts it."""
    server = PostgresServer(max_connections=50)
    try:
        yield server
    finally:
        server.destroy()


def test_starts_before_its_database_and_recovers_by_itself(
    stopped_server: PostgresServer,
) -> None:
    database = "auth_start"
    url = stopped_server.url(database).replace("postgres@", f"postgres:{DB_PASSWORD}@")
    replicas: list[Replica] = []
    try:
        for _ in range(2):  # appended one by one, so the finally stops what started
            replicas.append(start_replica(url))
        for replica in replicas:
            ready = replica.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"] == {"start-up": False, "database": False}
            assert_unavailable(replica.token())
            assert_unavailable(replica.get("/.well-known/jwks.json"))
        wait_until(
            lambda: all("start-up attempt" in r.output() for r in replicas),
            "a failed start-up attempt logged by each replica",
        )

        # PostgreSQL answers, but the schema is missing (the migration Job has not run).
        stopped_server.start()
        migrated = stopped_server.create_database(database)
        wait_until(
            lambda: all("auth_service migrate` run?" in r.output() for r in replicas),
            "each replica to report the missing schema",
        )
        for replica in replicas:
            ready = replica.get("/readyz")
            assert ready.json()["checks"] == {"start-up": False, "database": True}
            assert_unavailable(replica.token())
            assert_unavailable(replica.get("/.well-known/jwks.json"))

        upgrade("auth_service", migrated)

        for replica in replicas:
            wait_until(
                replica.is_ready,
                "the auth-service to become ready",
                timeout_s=RECOVERY_BOUND_S,
            )
        key_sets = [r.get("/.well-known/jwks.json").json()["keys"] for r in replicas]
        assert len(key_sets[0]) == 1, "replicas starting together create one signing key"
        assert key_sets[1] == key_sets[0]
        with psycopg.connect(stopped_server.url(database)) as connection:
            row = connection.execute("SELECT count(*) FROM auth.signing_keys").fetchone()
        assert row == (1,)

        issued = replicas[1].token()
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        (key,) = key_sets[0]
        assert jwt.get_unverified_header(token)["kid"] == key["kid"]
        claims = jwt.decode(
            token,
            jwt.PyJWK(key).key,
            algorithms=["ES256"],
            audience="taskplane",
            issuer="taskplane-auth",
        )
        assert "admin" in claims["roles"]
        for replica in replicas:
            assert "start-up done" in stopped_cleanly(replica)
    finally:
        for replica in replicas:
            stop_process(replica.process)


def test_stops_promptly_while_start_up_is_retrying() -> None:
    """A database that accepts the connection and never answers: the stop cancels the
    start-up's connection attempt in progress (connect timeout 60 s) rather than wait it
    out."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        replica = start_replica(
            f"postgresql://taskplane:{DB_PASSWORD}@127.0.0.1:{port}/taskplane",
            TASKPLANE_DB_CONNECT_TIMEOUT_S="60",
        )
        try:
            # Not /readyz: its database ping would wait out the connect timeout.
            assert_unavailable(replica.get("/.well-known/jwks.json"))
            assert "start-up done" not in stopped_cleanly(replica)
        finally:
            stop_process(replica.process)
