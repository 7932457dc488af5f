"""The four services as real processes on one real PostgreSQL, for the contract runs.

``python -m taskplane_testing.contract`` starts them on free ports, prints each
service's URL and an admin's and a member's access token (to try ``st run`` by hand),
and runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

import httpx

from taskplane_testing.platform import Platform, running_platform
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import ServiceProcess
from taskplane_testing.scripts import load_script

MEMBER_EMAIL = "member@example.org"
MEMBER_PASSWORD = "another long local password"


@dataclass(frozen=True)
class ContractPlatform:
    platform: Platform
    users: ServiceProcess
    notifications: ServiceProcess

    @property
    def urls(self) -> dict[str, str]:
        return {
            "auth-service": self.platform.auth.url,
            "user-service": self.users.url,
            "task-service": self.platform.tasks.url,
            "notification-service": self.notifications.url,
        }

    def admin_token(self) -> str:
        return self.platform.admin_token()

    def member_token(self) -> str:
        """A member's access token (the account is registered on first use)."""
        auth = self.platform.auth.url
        httpx.post(
            f"{auth}/api/v1/auth/register",
            json={"email": MEMBER_EMAIL, "password": MEMBER_PASSWORD},
            timeout=30,
        )
        return self.platform.login(MEMBER_EMAIL, MEMBER_PASSWORD)


#: Long polls (events, leases) end after a second: the document lets a client ask for
#: any wait and the service caps it, so fuzzed waits do not stall the run.
LONG_POLL_CAP = {"TASKPLANE_MAX_WAIT_S": "1"}


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def contract_platform(postgres: PostgresServer, prefix: str) -> Iterator[ContractPlatform]:
    """auth and task (the shared test platform), user and notification (API only)."""
    with (
        _environment(LONG_POLL_CAP),
        running_platform(postgres, f"{prefix}_platform") as platform,
    ):
        jwks = f"{platform.auth.url}/.well-known/jwks.json"
        common = {
            "TASKPLANE_ENVIRONMENT": "development",
            "TASKPLANE_LOG_LEVEL": "WARNING",
            "TASKPLANE_JWKS_URL": jwks,
        }
        users = ServiceProcess(
            "user_service",
            {
                **common,
                "DATABASE_URL": postgres.create_database(f"{prefix}_users"),
                "OTEL_SERVICE_NAME": "user-service",
            },
        )
        notifications = ServiceProcess(
            "notification_service",
            {
                **common,
                "DATABASE_URL": postgres.create_database(f"{prefix}_notifications"),
                "OTEL_SERVICE_NAME": "notification-service",
                "TASKPLANE_BACKGROUND_ENABLED": "false",
            },
        )
        with users, notifications:
            yield ContractPlatform(platform, users, notifications)


def load_documents_script() -> ModuleType:
    """scripts/openapi.py: which services there are and how their apps are built."""
    return load_script("openapi.py")


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(
        prog="python -m taskplane_testing.contract", description=__doc__
    ).parse_args(argv)
    with PostgresServer() as postgres, contract_platform(postgres, "contract_by_hand") as running:
        for name, url in running.urls.items():
            print(f"{name}: {url}")
        print(f"admin token: {running.admin_token()}")
        print(f"member token: {running.member_token()}", flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    sys.exit(main(sys.argv[1:]))
