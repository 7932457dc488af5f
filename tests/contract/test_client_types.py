"""The client and the services agree on every wire type: each schema the committed
documents name is, where the client has a model of that name, exactly the client
model's schema (the services build their bodies on those models), and every service
builds its bodies on the client's models rather than on copies of them."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel

import taskplane_client.models as wire
from taskplane_testing.contract import load_documents_script

SCRIPT = load_documents_script()
#: Schemas a service extends with optional members the client leaves to their defaults:
#: the queue's retention settings.
SERVER_EXTENDS = {"QueueConfig"}
REF = "#/components/schemas/{model}"
#: Client-side models that are no service's body: what a token says, a path's parts.
CLIENT_ONLY = {"Identity", "WorkloadBindingKey", "Request", "Response"}


def client_models() -> dict[str, type[BaseModel]]:
    return {
        name: model
        for name, model in inspect.getmembers(wire, inspect.isclass)
        if issubclass(model, BaseModel) and model.__module__.startswith(f"{wire.__name__}.")
    }


def documents() -> dict[str, dict[str, Any]]:
    return {service: json.loads(SCRIPT.path_of(service).read_text()) for service in SCRIPT.SERVICES}


def _without_extras_policy(schema: dict[str, Any]) -> dict[str, Any]:
    """A strict server refuses unknown members where the tolerant client keeps them;
    the members themselves must agree."""
    return {k: v for k, v in schema.items() if k != "additionalProperties"}


def _echo(model: type[BaseModel]) -> Any:
    async def echo(body: Any) -> Any:
        return body

    echo.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=model)]
    )
    return echo


def client_components() -> dict[str, Any]:
    """The client models' schemas as FastAPI documents them: each one as a request body
    and as a response body of an app that has nothing else."""
    app = FastAPI()
    for name, model in client_models().items():
        app.add_api_route(f"/{name}", _echo(model), methods=["POST"], response_model=model)
    schemas: dict[str, Any] = app.openapi()["components"]["schemas"]
    return schemas


def client_schemas(name: str, components: dict[str, Any]) -> list[dict[str, Any]]:
    """The client's schema of ``name`` (both forms when FastAPI splits input and output)."""
    forms = (name, f"{name}-Input", f"{name}-Output")
    return [_without_extras_policy(components[form]) for form in forms if form in components]


@pytest.mark.parametrize("service", sorted(SCRIPT.SERVICES))
def test_every_schema_the_client_names_is_the_clients(service: str) -> None:
    components = documents()[service]["components"]["schemas"]
    client = client_components()
    shared = sorted(set(components) & set(client_models()))
    assert shared, f"{service} shares no schema with the client"
    for name in shared:
        documented = _without_extras_policy(components[name])
        if name in SERVER_EXTENDS:
            documented = _client_members(documented, client_schemas(name, client)[0])
        assert documented in client_schemas(name, client), (
            f"{service}: {name} differs from taskplane_client.models.{name}"
        )


def _client_members(documented: dict[str, Any], client: dict[str, Any]) -> dict[str, Any]:
    """The server's schema cut to the members the client has (the rest must be optional)."""
    extra = set(documented["properties"]) - set(client["properties"])
    assert not extra & set(documented.get("required", ())), f"required members {extra}"
    properties = {k: v for k, v in documented["properties"].items() if k not in extra}
    return {**documented, "properties": properties}


def test_every_client_model_is_some_services_schema() -> None:
    """No client model drifts away unnoticed: each one is a schema of some document."""
    named = set().union(*(d["components"]["schemas"] for d in documents().values()))
    models = client_models()
    # A base whose members a documented model has (QueueStats of Queue) drifts with it.
    covered = {base.__name__ for name in named & set(models) for base in models[name].__mro__}
    missing = sorted(set(models) - named - covered - CLIENT_ONLY)
    assert not missing, f"client models no service document has: {missing}"
