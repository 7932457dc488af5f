"""Property-based API fuzzing of the tasks and queue API: no 5xx and no response that
breaks the OpenAPI schema, as an admin (every route reachable) and as a viewer."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from task_service.config import Settings
from task_service.main import build_app
from taskplane_common.testing.tokens import JWKS_URL, TokenFactory, bearer


@pytest.fixture(scope="module")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="module")
def task_api(task_db_url: str, tokens: TokenFactory) -> FastAPI:
    app = build_app(Settings(DATABASE_URL=task_db_url, jwks_url=JWKS_URL))
    app.state.token_verifier = tokens.verifier()
    return app


@pytest.fixture
def task_schema(task_api: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", task_api)


schema = schemathesis.pytest.from_fixture("task_schema")
CHECKS = [not_a_server_error, response_schema_conformance]


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_task_api_as_admin(case: Any, tokens: TokenFactory) -> None:
    case.call_and_validate(headers=bearer(tokens.token(roles=["admin"])), checks=CHECKS)


@schema.parametrize()
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
def test_task_api_as_viewer(case: Any, tokens: TokenFactory) -> None:
    case.call_and_validate(headers=bearer(tokens.token(roles=["viewer"])), checks=CHECKS)
