"""The auth-service ASGI application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from auth_service import __version__, crud
from auth_service.api.routes import admin, exchanges, jwks, login, workload_bindings
from auth_service.bootstrap import StartUp, check_bootstrap_password
from auth_service.config import Settings, get_settings
from auth_service.keys import KeyStore, KeyStoreVerifier
from auth_service.kubernetes import build_verifier
from auth_service.models import AUDIT_LOG
from auth_service.passwords import Passwords
from auth_service.retention import retention_cleaner
from auth_service.tokens import TokenIssuer
from taskplane_common import background
from taskplane_common.app import create_app
from taskplane_common.db import Database
from taskplane_common.revocations import RevocationList


def build_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = Database(settings)
    key_store = KeyStore(database, settings)
    passwords = Passwords(settings)
    check_bootstrap_password(settings, passwords)
    startup = StartUp(key_store, database, settings, passwords)
    kubernetes_verifier = build_verifier(settings)
    cleaner = retention_cleaner(settings, database)

    async def own_revocations(since: int) -> Mapping[str, Any]:
        async with database.read_sessionmaker() as session:
            return await crud.revocation_page(session, since)

    revocations = RevocationList(
        own_revocations,
        poll_interval_s=settings.revocations_poll_interval_s,
        max_age_s=settings.revocations_max_age_s,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Served at once, whether or not the database answers: the start-up tasks are
        # retried in the background, and /readyz says when they are done.
        starting = asyncio.create_task(startup.run(), name="start-up")
        cleaner.start()
        yield
        await background.stop(starting)
        await cleaner.stop()
        await revocations.aclose()
        if kubernetes_verifier is not None:
            await kubernetes_verifier.aclose()

    app = create_app(
        settings=settings,
        title="taskplane auth-service",
        version=__version__,
        # The busiest first (a request is matched against the routes in order): every
        # verifier's JWKS fetch and revocation poll, then logins and refreshes.
        routers=[
            jwks.router,
            login.router,
            exchanges.router,
            admin.router,
            workload_bindings.router,
        ],
        database=database,
        lifespan=lifespan,
        extra_ready_checks={"start-up": startup.ready},
        token_verifier=KeyStoreVerifier(key_store, settings, revocations),
        audit_table=AUDIT_LOG,
    )
    app.state.key_store = key_store
    app.state.startup = startup
    app.state.passwords = passwords
    app.state.kubernetes_verifier = kubernetes_verifier
    app.state.token_issuer = TokenIssuer(key_store, settings)
    app.state.retention = cleaner
    return app
