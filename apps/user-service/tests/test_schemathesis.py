"""Property-based API fuzzing: no 5xx and no response that breaks the OpenAPI schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from taskplane_common.testing.tokens import JWKS_URL, TokenFactory, bearer
from user_service.config import Settings
from user_service.main import build_app


@pytest.fixture(scope="module")
def user_api(user_db_url: str, tokens: TokenFactory) -> FastAPI:
    app = build_app(Settings(DATABASE_URL=user_db_url, jwks_url=JWKS_URL))
    app.state.token_verifier = tokens.verifier()
    return app


@pytest.fixture
def user_schema(user_api: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", user_api)


schema = schemathesis.pytest.from_fixture("user_schema")
CHECKS = [not_a_server_error, response_schema_conformance]


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
def test_user_api_as_admin(case: Any, tokens: TokenFactory) -> None:
    """Admins see the full directory."""
    token = tokens.token(roles=["admin"], email="admin@example.com")
    case.call_and_validate(headers=bearer(token), checks=CHECKS)


@schema.parametrize()
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
def test_user_api_as_viewer(case: Any, tokens: TokenFactory) -> None:
    """Viewers see the limited directory."""
    token = tokens.token(roles=["viewer"], email="viewer@example.com")
    case.call_and_validate(headers=bearer(token), checks=CHECKS)
