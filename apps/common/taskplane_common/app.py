"""The application factory every service uses, so all of them behave alike."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from sqlalchemy import Table

from taskplane_common.audit import AuditRetention, audit_router
from taskplane_common.commandline import ConfigurationError
from taskplane_common.db import Database
from taskplane_common.errors import install_error_handlers
from taskplane_common.health import health_router
from taskplane_common.logging import configure_logging
from taskplane_common.middleware import RequestMiddleware
from taskplane_common.openapi import install_openapi
from taskplane_common.principals import TokenVerifier, warn_auth_disabled
from taskplane_common.revocations import revocations_url_for
from taskplane_common.settings import ServiceSettings
from taskplane_common.token_verifier import JwksTokenVerifier
from taskplane_common.tracing import configure_tracer_provider, trace_sql

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
_NO_FASTAPI_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


def create_app(
    *,
    settings: ServiceSettings,
    title: str,
    version: str,
    routers: Sequence[APIRouter],
    database: Database | None,
    lifespan: Lifespan | None = None,
    extra_ready_checks: dict[str, Callable[[], Awaitable[bool]]] | None = None,
    token_verifier: TokenVerifier | None = None,
    audit_table: Table | None = None,
) -> FastAPI:
    """Build a FastAPI app with logging, metrics, tracing, problem+json errors and health.

    Authentication is wired here so no service can forget it: ``token_verifier`` if
    given (the auth-service verifies with its own key store), else a JWKS verifier for
    ``TASKPLANE_JWKS_URL``; with neither and auth not disabled the service refuses to
    start rather than answer every request with 503.

    ``audit_table`` (the service's ``audit_log``) adds ``GET /api/v1/audit`` and the
    job that deletes entries past ``TASKPLANE_AUDIT_RETENTION_DAYS``.
    """
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    verifier = token_verifier or _jwks_verifier(settings)
    configure_tracer_provider(settings.service_name, settings.otel_exporter_otlp_endpoint)

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auth_disabled:
            warn_auth_disabled(settings.service_name)
        log.info("%s starting (environment=%s)", settings.service_name, settings.environment)
        try:
            async with contextlib.AsyncExitStack() as stack:
                if audit_table is not None and database is not None:
                    retention = AuditRetention(database, str(audit_table.schema), settings)
                    retention.start()
                    stack.push_async_callback(retention.stop)
                if lifespan is not None:
                    await stack.enter_async_context(lifespan(app))
                if ServerProcess.freeze_after_startup:
                    _freeze_startup_objects()
                yield
        finally:
            if isinstance(verifier, JwksTokenVerifier):
                await verifier.aclose()
            if database is not None:
                await database.dispose()
            log.info("%s stopped", settings.service_name)

    # FastAPI's own telemetry off: RequestMiddleware makes the server span and the metrics
    # in its one pass; FastAPI's would add a second server span and per-operation spans
    # (dependencies, endpoint) to every request.
    app = FastAPI(title=title, version=version, lifespan=_lifespan, telemetry=_NO_FASTAPI_TELEMETRY)
    app.state.settings = settings
    app.state.database = database
    app.state.token_verifier = verifier
    app.state.audit_table = audit_table
    install_error_handlers(app)
    install_openapi(app)

    checks = dict(extra_ready_checks or {})
    if database is not None:
        checks["database"] = database.ping
    for router in (health_router(checks), *routers):
        _add_routes(app, router)
    if audit_table is not None:
        _add_routes(app, audit_router())

    app.add_middleware(
        RequestMiddleware,
        service=settings.service_name,
        max_bytes=settings.max_request_body_bytes,
    )
    if database is not None:
        trace_sql()
    return app


class ServerProcess:
    """What holds for a process that serves one app until it exits (``python -m
    <service> serve`` sets it), not for one that builds many (the tests)."""

    #: Freeze the objects alive after start-up (:func:`_freeze_startup_objects`).
    freeze_after_startup = False


def _freeze_startup_objects() -> None:
    """Everything alive once the app has started (modules, routes, models, pools) lives
    as long as the process: moved out of the garbage collector's generations, a full
    collection no longer walks it again and again while requests allocate (6% of a
    POST's CPU in py-spy went to collections)."""
    gc.collect()
    gc.freeze()


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """``router``'s routes straight into the app's own list, as ``@app.get`` would add
    them: FastAPI's ``include_router`` keeps the router behind a branch that every
    request walks (each included router matched in turn, its routes matched through
    per-inclusion contexts, the route table's version recomputed), 10 to 15% of a cheap
    request's CPU. The services include their routers without a prefix, tags or
    dependencies of the inclusion (a router's own are in its routes already), so the
    routes are the same."""
    app.router.routes.extend(router.routes)
    app.router._mark_routes_changed()


def _jwks_verifier(settings: ServiceSettings) -> JwksTokenVerifier | None:
    if settings.auth_disabled:
        return None
    if not settings.jwks_url:
        raise ConfigurationError(
            f"authentication is not configured for the {settings.service_name}: set "
            "TASKPLANE_JWKS_URL to the auth-service JWKS (for example "
            "http://localhost:8001/.well-known/jwks.json), or TASKPLANE_AUTH_DISABLED=true "
            "on a developer machine."
        )
    return JwksTokenVerifier(
        settings.jwks_url,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        cache_ttl_s=settings.jwks_cache_ttl_s,
        min_refetch_interval_s=settings.jwks_min_refetch_interval_s,
        leeway_s=settings.jwt_leeway_s,
        revocations_url=settings.revocations_url or revocations_url_for(settings.jwks_url),
        revocations_poll_interval_s=settings.revocations_poll_interval_s,
        revocations_max_age_s=settings.revocations_max_age_s,
    )
