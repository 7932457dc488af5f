"""Property-based API fuzzing: no 5xx and no response that breaks the OpenAPI schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from taskplane_common.testing.tokens import TokenFactory, bearer

from .conftest import build_test_app


@pytest.fixture(scope="module")
def notification_api(notify_db_url: str, tokens: TokenFactory) -> FastAPI:
    return build_test_app(notify_db_url, tokens)


@pytest.fixture
def notification_schema(notification_api: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", notification_api)


schema = schemathesis.pytest.from_fixture("notification_schema")


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_notification_api(case: Any, tokens: TokenFactory) -> None:
    case.call_and_validate(
        headers=bearer(tokens.token(roles=["member"])),
        checks=[not_a_server_error, response_schema_conformance],
    )
