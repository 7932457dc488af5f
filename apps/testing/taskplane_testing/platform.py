"""The platform as real processes for end-to-end tests: an auth-service with a bootstrap
admin and a task-service verifying its tokens, on one test database."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import ServiceProcess

ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "a long enough local password"


@dataclass(frozen=True)
class Platform:
    auth: ServiceProcess
    tasks: ServiceProcess

    def admin_token(self) -> str:
        """A fresh access token of the bootstrap admin (password login)."""
        return self.login(ADMIN_EMAIL, ADMIN_PASSWORD)

    def login(self, email: str, password: str) -> str:
        """A fresh access token of an account (password login)."""
        response = httpx.post(
            f"{self.auth.url}/api/v1/auth/token",
            data={"username": email, "password": password},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def service_token(self, name: str, *scopes: str) -> str:
        """A new ``tps_`` service token with ``scopes``, created by the admin."""
        response = httpx.post(
            f"{self.auth.url}/api/v1/admin/service-tokens",
            json={"name": name, "scopes": list(scopes)},
            headers={"Authorization": f"Bearer {self.admin_token()}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        return token


@contextmanager
def running_platform(
    postgres: PostgresServer,
    database: str,
    log_level: str = "WARNING",
    auth_env: Mapping[str, str] | None = None,
) -> Iterator[Platform]:
    """Start auth-service and task-service on a new database; stop both at the end.

    ``auth_env``: more environment for the auth-service (Kubernetes exchange settings...).
    """
    common = {
        "DATABASE_URL": postgres.create_database(database),
        "TASKPLANE_ENVIRONMENT": "development",
        "TASKPLANE_LOG_LEVEL": log_level,
    }
    auth = ServiceProcess(
        "auth_service",
        {
            **common,
            "OTEL_SERVICE_NAME": "auth-service",
            "TASKPLANE_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
            "TASKPLANE_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "TASKPLANE_ARGON2_TIME_COST": "1",
            "TASKPLANE_ARGON2_MEMORY_KIB": "1024",
            # Every test logs in from 127.0.0.1; per-account limits stay as configured.
            "TASKPLANE_LOGIN_MAX_ATTEMPTS_PER_ADDRESS": "100000",
            **(auth_env or {}),
        },
    )
    with auth:
        tasks = ServiceProcess(
            "task_service",
            {
                **common,
                "OTEL_SERVICE_NAME": "task-service",
                "TASKPLANE_JWKS_URL": f"{auth.url}/.well-known/jwks.json",
            },
        )
        with tasks:
            yield Platform(auth, tasks)


@pytest.fixture(scope="module")
def platform(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[Platform]:
    """The platform for one test module (import this fixture into a conftest)."""
    database = "platform_" + re.sub(r"\W", "_", request.module.__name__)[-50:]
    with running_platform(postgres_server, database) as running:
        yield running
