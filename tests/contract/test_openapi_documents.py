"""The committed OpenAPI documents are what the services serve at /openapi.json, so a
change of contract shows in review (and in the web console's generated types)."""

from __future__ import annotations

import json

import pytest

from taskplane_testing.contract import load_documents_script
from taskplane_testing.http import asgi_client

SCRIPT = load_documents_script()


@pytest.mark.parametrize("service", sorted(SCRIPT.SERVICES))
async def test_live_document_is_the_committed_one(service: str) -> None:
    app = SCRIPT.SERVICES[service]()
    async with asgi_client(app) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    committed = SCRIPT.path_of(service).read_text()
    assert SCRIPT.render(response.json()) == committed, (
        f"docs/api/{service}.openapi.json is stale: run make openapi"
    )


@pytest.mark.parametrize("service", sorted(SCRIPT.SERVICES))
def test_every_error_answer_is_a_problem(service: str) -> None:
    """Every 4xx/5xx of every operation is problem+json with the one shared schema."""
    document = json.loads(SCRIPT.path_of(service).read_text())
    assert document["openapi"].startswith("3.1")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
            for status, response in errors.items():
                assert response["content"] == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }, f"{method.upper()} {path} {status}"
    assert "HTTPValidationError" not in document["components"]["schemas"]
