"""Property-based API fuzzing: no 5xx and no response that breaks the OpenAPI schema.

schemathesis serves a separate app instance in-process on its own event-loop thread,
on the same database as the other tests; a fresh admin token makes the admin routes
reachable, so the fuzzing gets past authentication.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import get_client
from schemathesis.specs.openapi.checks import response_schema_conformance

from auth_service.config import Settings
from auth_service.main import build_app


@pytest.fixture(scope="module")
def auth_api(auth_db_url: str) -> FastAPI:
    return build_app(
        Settings(
            DATABASE_URL=auth_db_url,
            argon2_time_cost=1,
            argon2_memory_kib=1024,
            argon2_parallelism=1,
        )
    )


@pytest.fixture
def auth_schema(auth_api: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", auth_api)


@pytest.fixture
def admin_headers(auth_api: FastAPI) -> dict[str, str]:
    with get_client(auth_api) as client:
        password = "fuzzing admin password"
        client.post(
            "/api/v1/auth/register", json={"email": "fuzz@example.com", "password": password}
        )
        response = client.post(
            "/api/v1/auth/token", data={"username": "fuzz@example.com", "password": password}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


schema = schemathesis.pytest.from_fixture("auth_schema")


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
def test_auth_api_conforms_to_its_schema(case: Any, admin_headers: dict[str, str]) -> None:
    case.call_and_validate(
        headers=admin_headers, checks=[not_a_server_error, response_schema_conformance]
    )
