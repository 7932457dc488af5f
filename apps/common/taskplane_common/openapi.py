"""The exact OpenAPI document of a service: every error status, one ``Problem`` schema.

FastAPI lists only the statuses a route declares and documents errors as
``application/json``. The services answer every error as RFC 9457
``application/problem+json``, and some statuses come from the dependencies a route uses
(a missing token is a 401 wherever ``current_principal`` runs). So:

- a route declares the statuses its handler raises next to it (``responses=problems(...)``);
- a dependency declares the statuses it raises with ``@raises(...)``, and every route
  that uses it, however deep, lists them;
- a route with a request body lists 400 (a body that is no JSON), 413 (the body size
  limit) and 422;
- every error response is ``application/problem+json`` with the one ``Problem`` schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from taskplane_client.models import Problem
from taskplane_common.errors import PROBLEM_JSON

_F = TypeVar("_F", bound=Callable[..., Any])
_MARK = "__taskplane_problem_statuses__"
#: In a link, the handler name that ``exact_openapi`` replaces with its operation id.
_ROUTE_NAME = "x-taskplane-route"
PROBLEM_REF = "#/components/schemas/Problem"
#: FastAPI's own validation error schemas, replaced by ``Problem``.
_FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")

Responses = dict[int | str, dict[str, Any]]


def raises(*statuses: int) -> Callable[[_F], _F]:
    """Mark a dependency: every route that uses it may answer these statuses."""

    def mark(function: _F) -> _F:
        setattr(function, _MARK, frozenset(statuses) | getattr(function, _MARK, frozenset()))
        return function

    return mark


def problem(description: str) -> dict[str, Any]:
    """One problem+json response entry for ``responses=``."""
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }


def problems(*statuses: int, **descriptions: str) -> Responses:
    """``responses=`` for statuses a handler raises; ``s404="No such task"`` words one."""
    return {
        status: problem(descriptions.get(f"s{status}", HTTPStatus(status).phrase))
        for status in statuses
    }


def links(status: int, **targets: dict[str, str]) -> Responses:
    """OpenAPI links from a ``status`` answer to the routes (by handler name) it leads to.

    ``links(201, get_task={"task_id": "$response.body#/id"})``: the schemathesis stateful
    phase (and a reader) follows a created task to the calls on it. The handler names are
    resolved to operation ids when the document is built.
    """
    return {
        status: {
            "links": {
                name: {_ROUTE_NAME: name, "parameters": parameters}
                for name, parameters in targets.items()
            }
        }
    }


def with_links(responses: Responses, *more: Responses) -> Responses:
    """``responses`` and the ``links(...)`` of the same statuses, merged."""
    merged = {status: dict(response) for status, response in responses.items()}
    for extra in more:
        for status, response in extra.items():
            merged.setdefault(status, {}).update(response)
    return merged


def _dependency_calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _dependency_calls(dependency)


def implied_statuses(route: RouteContext) -> set[int]:
    """The error statuses a route can answer because of what it depends on."""
    statuses: set[int] = set()
    for call in _dependency_calls(route.dependant):
        statuses |= getattr(call, _MARK, frozenset())
    if route.dependant.body_params:
        statuses |= {400, 413, 422}
    if route.dependant.path_params or route.dependant.query_params:
        statuses.add(422)
    if any(p.field_info.is_required() for p in route.dependant.header_params):
        statuses.add(422)
    return statuses


def _problem_schemas() -> dict[str, Any]:
    """``Problem`` (and what it refers to) as FastAPI documents a response model."""
    app = FastAPI()

    @app.get("/problem", response_model=Problem)
    async def problem() -> None:
        """Never served: the app only documents the schema."""

    schemas: dict[str, Any] = app.openapi()["components"]["schemas"]
    return {name: schema for name, schema in schemas.items() if name not in _FASTAPI_ERROR_SCHEMAS}


def exact_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with every error status and the problem+json content."""
    document = FastAPI.openapi(app)
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        implied = implied_statuses(route)
        for method in route.methods or ():
            operation = document["paths"][route.path_format][method.lower()]
            responses = operation.setdefault("responses", {})
            for status in implied:
                responses.setdefault(str(status), {"description": HTTPStatus(status).phrase})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
                    if response["description"] == "Validation Error":
                        response["description"] = "The request is not valid"
            operation["responses"] = dict(sorted(responses.items()))
            for parameter in operation.get("parameters", ()):
                _not_null(parameter["schema"])
    _resolve_links(document, app)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_ERROR_SCHEMAS:
        schemas.pop(name, None)
    schemas.update(_problem_schemas())
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    return document


def _not_null(schema: dict[str, Any]) -> None:
    """A query or header parameter is absent or a string, never ``null``: FastAPI's
    ``anyOf [..., null]`` for an optional one would have clients send ``null``."""
    alternatives = schema.get("anyOf")
    if alternatives is None or {"type": "null"} not in alternatives:
        return
    rest = [alternative for alternative in alternatives if alternative != {"type": "null"}]
    del schema["anyOf"]
    if schema.get("default", ...) is None:
        del schema["default"]
    if len(rest) == 1:
        schema.update(rest[0])
    else:
        schema["anyOf"] = rest


def _resolve_links(document: dict[str, Any], app: FastAPI) -> None:
    operation_ids = {
        route.name: route.unique_id
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
    }
    for operations in document["paths"].values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                for link in response.get("links", {}).values():
                    if _ROUTE_NAME in link:
                        link["operationId"] = operation_ids[link.pop(_ROUTE_NAME)]


def install_openapi(app: FastAPI) -> None:
    """Serve the exact document at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if not getattr(app.state, "exact_openapi", None):
            app.state.exact_openapi = exact_openapi(app)
        document: dict[str, Any] = app.state.exact_openapi
        return document

    app.openapi = openapi  # type: ignore[method-assign]
