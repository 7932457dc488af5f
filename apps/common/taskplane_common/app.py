"""The application factory every service uses, so all of them behave alike."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI

from taskplane_common.db import Database
from taskplane_common.errors import install_error_handlers
from taskplane_common.health import health_router
from taskplane_common.logging import configure_logging
from taskplane_common.metrics import PrometheusMiddleware
from taskplane_common.middleware import BodySizeLimitMiddleware
from taskplane_common.security import warn_auth_disabled
from taskplane_common.settings import ServiceSettings
from taskplane_common.tracing import configure_tracer_provider, instrument_app

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    *,
    settings: ServiceSettings,
    title: str,
    version: str,
    routers: Sequence[APIRouter],
    database: Database | None,
    lifespan: Lifespan | None = None,
    extra_ready_checks: dict[str, Callable[[], Awaitable[bool]]] | None = None,
) -> FastAPI:
    """Build a FastAPI app with logging, metrics, tracing, problem+json errors and health."""
    configure_logging(settings.service_name, settings.log_level)
    configure_tracer_provider(settings.service_name, settings.otel_exporter_otlp_endpoint)

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auth_disabled:
            warn_auth_disabled(settings.service_name)
        log.info("%s starting (environment=%s)", settings.service_name, settings.environment)
        try:
            if lifespan is not None:
                async with lifespan(app):
                    yield
            else:
                yield
        finally:
            if database is not None:
                await database.dispose()
            log.info("%s stopped", settings.service_name)

    app = FastAPI(title=title, version=version, lifespan=_lifespan)
    app.state.settings = settings
    app.state.database = database
    install_error_handlers(app)

    checks = dict(extra_ready_checks or {})
    if database is not None:
        checks["database"] = database.ping
    app.include_router(health_router(checks))
    for router in routers:
        app.include_router(router)

    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    app.add_middleware(PrometheusMiddleware, service=settings.service_name)
    instrument_app(app, database.engine if database is not None else None)
    return app
