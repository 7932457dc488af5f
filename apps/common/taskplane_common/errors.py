"""RFC 9457 problem+json for every error a service returns.

Handlers never echo stack traces, SQL or host names: unexpected exceptions are logged
with their trace id and answered with a generic 500; a database that cannot be reached
is a 503 with ``Retry-After`` so clients back off instead of hammering it. A pool whose
every connection stayed busy for the pool timeout is a different 503 (``database-busy``):
the database is fine, this replica is saturated, and saying "unavailable" would send an
operator hunting for an outage that is not there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, TypedDict, Unpack

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from taskplane_common.metrics import DB_POOL_EXHAUSTED

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://taskplane.dev/problems/"


def problem_type(slug: str) -> str:
    return PROBLEM_TYPE_BASE + slug


def _status_type(status: int) -> str:
    """The type of a problem that names none: its status phrase (``not-found``)."""
    return problem_type(HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", ""))


class ProblemFields(TypedDict, total=False):
    """What a problem may carry besides its status, detail and type, as both
    :class:`ProblemError` and :func:`problem_response` take it."""

    #: Default: the status phrase.
    title: str | None
    headers: Mapping[str, str] | None
    #: Extension members of the body (``errors``, ``checks``, ...).
    extra: Mapping[str, Any] | None


class ProblemError(Exception):
    """Raise from anywhere in a request to answer with a problem+json body."""

    def __init__(
        self, status: int, detail: str, *, slug: str | None = None, **fields: Unpack[ProblemFields]
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = fields.get("title") or HTTPStatus(status).phrase
        self.type = problem_type(slug) if slug else _status_type(status)
        self.headers = dict(fields.get("headers") or {})
        self.extra = dict(fields.get("extra") or {})

    def response(self, instance: str | None = None) -> JSONResponse:
        """The answer to the request for ``instance`` that raised this."""
        return problem_response(
            self.status,
            self.detail,
            type_=self.type,
            instance=instance,
            title=self.title,
            headers=self.headers,
            extra=self.extra,
        )


def problem_response(
    status: int,
    detail: str,
    *,
    type_: str | None = None,
    instance: str | None = None,
    **fields: Unpack[ProblemFields],
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_ or _status_type(status),
        "title": fields.get("title") or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(fields.get("extra") or {})
    headers = dict(fields.get("headers") or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic errors without the offending input, which may be large or sensitive."""
    return [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in errors
    ]


def _summarise(errors: list[dict[str, Any]]) -> str:
    parts = [f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5]]
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def is_database_unavailable(exc: BaseException) -> bool:
    """Connection-level failures (server down, refused, silent), not query errors."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError | ConnectionError):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated) or isinstance(exc.orig, psycopg.OperationalError)
    return isinstance(exc, psycopg.OperationalError)


def unstorable_value(exc: BaseException) -> str | None:
    """Why PostgreSQL refused a value the request carried, or None for other errors.

    Data exceptions (SQLSTATE class 22: NUL characters, numbers out of range, ...) come
    from input that passed validation but cannot be stored; the statement failed, so
    nothing was written, and the client gets a 422 rather than a 500.
    """
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if not isinstance(orig, psycopg.DataError):
        return None
    diag = getattr(orig, "diag", None)
    message = getattr(diag, "message_primary", None) or str(orig).splitlines()[0]
    return str(message)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves at this path (Starlette names only the
    first route's, so a 405 on ``/tasks/{id}`` said ``Allow: GET`` despite PATCH)."""
    path = request.scope["path"]
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        pattern = getattr(route, "path_regex", None)
        if route.methods and pattern is not None and pattern.match(path):
            methods |= route.methods
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _is_unique_violation(exc: BaseException) -> bool:
    """A change another row's unique value forbids: the state conflicts (409), the
    request was fine and nothing was written."""
    return isinstance(exc, DBAPIError) and isinstance(exc.orig, psycopg.errors.UniqueViolation)


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on an app."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return exc.response(request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route matches {request.method} {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
        return problem_response(exc.status_code, detail, headers=headers, instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc.errors())
        return problem_response(
            422,
            _summarise(errors),
            type_=problem_type("validation-error"),
            title="Request validation failed",
            extra={"errors": errors},
            instance=request.url.path,
        )

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if (unstorable := unstorable_value(exc)) is not None:
            return problem_response(
                422,
                f"a value cannot be stored: {unstorable}",
                type_=problem_type("unstorable-value"),
                title="Request validation failed",
                instance=request.url.path,
            )
        if _is_unique_violation(exc):
            return problem_response(
                409,
                "the change conflicts with the current state (a unique value is taken)",
                type_=problem_type("conflict"),
                instance=request.url.path,
            )
        if isinstance(exc, PoolTimeoutError):
            settings = getattr(request.app.state, "settings", None)
            DB_POOL_EXHAUSTED.labels(getattr(settings, "service_name", "unknown")).inc()
            return problem_response(
                503,
                "every database connection of this replica stayed busy; retry later",
                type_=problem_type("database-busy"),
                title="Service busy",
                headers={"Retry-After": "1"},
                instance=request.url.path,
            )
        if not is_database_unavailable(exc):
            return await _unexpected(request, exc)
        log.warning("database unavailable: %s", type(exc).__name__)
        return problem_response(
            503,
            "the database is unavailable; retry later",
            type_=problem_type("database-unavailable"),
            headers={"Retry-After": "2"},
            instance=request.url.path,
        )

    for database_error in (
        DBAPIError,
        PoolTimeoutError,
        psycopg.OperationalError,
        psycopg.DataError,
        OSError,
    ):
        app.add_exception_handler(database_error, _database)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "an unexpected error occurred", instance=request.url.path)
