"""A real, throw-away PostgreSQL server for tests and benchmarks.

Uses the machine's PostgreSQL binaries (``PG_BIN``, the newest ``/usr/lib/postgresql/*/bin``,
or whatever ``initdb`` is on PATH) and falls back to the binaries of the ``pgserver``
wheel. PostgreSQL refuses to run as root, so under root the server runs as the
``postgres`` system user. The server listens on 127.0.0.1 on a free port and can be
stopped and started again on the same port, which the outage tests rely on.

By default the server trades durability for speed (``fsync``, ``synchronous_commit`` and
``full_page_writes`` off), which is what tests want; ``durable=True`` keeps PostgreSQL's
defaults, so every commit waits for its WAL flush (the benchmark's durable profile).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg


def find_postgres_bin() -> Path:
    candidates: list[Path] = []
    if env_bin := os.environ.get("PG_BIN"):
        candidates.append(Path(env_bin))
    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    with contextlib.suppress(ImportError):
        import pgserver._commands as pgserver_commands

        return Path(pgserver_commands.POSTGRES_BIN_PATH)
    raise RuntimeError("no PostgreSQL binaries found: install postgresql or set PG_BIN")


def _unprivileged_user() -> str:
    """PostgreSQL refuses to run as root: the ``postgres`` user, or one made for it."""
    for name in ("postgres", "pgserver"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "pgserver"],
        check=True,
    )
    return "pgserver"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory."""

    def __init__(
        self, *, port: int | None = None, max_connections: int = 300, durable: bool = False
    ) -> None:
        self.bin = find_postgres_bin()
        self.port = port or free_port()
        self.max_connections = max_connections
        self.durable = durable
        self.base = Path(tempfile.mkdtemp(prefix="taskplane-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self._run_as = _unprivileged_user() if os.geteuid() == 0 else None
        if self._run_as:
            user = pwd.getpwnam(self._run_as)
            os.chown(self.base, user.pw_uid, user.pw_gid)
        self._run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ]
        )

    def _run(self, argv: list[str]) -> None:
        if self._run_as:
            argv = ["runuser", "-u", self._run_as, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log_tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(argv)} failed ({result.returncode}): {result.stderr}{log_tail}"
            )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} "
            f"-c max_connections={self.max_connections} -c shared_buffers=128MB"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def postmaster_pid(self) -> int:
        """The server's main process; every backend and helper process is its child."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create (or recreate) a database and return its URL."""
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.destroy()


def empty_schema(url: str, schema: str, keep: tuple[str, ...] = ()) -> None:
    """Truncate every table of ``schema`` but Alembic's and ``keep``, restarting identities.

    Test suites call it after each test so that a table added by a later migration is
    emptied too, without a list to keep up to date.
    """
    with psycopg.connect(url, autocommit=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT format('%%I.%%I', schemaname, tablename) FROM pg_tables "
                "WHERE schemaname = %s AND tablename <> ALL(%s)",
                (schema, ["alembic_version", *keep]),
            )
        ]
        if tables:
            connection.execute("SET taskplane.audit_truncate = on")  # the audit_log guard
            connection.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
