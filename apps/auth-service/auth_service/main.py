"""The auth-service ASGI application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from auth_service import __version__, crud
from auth_service.api.routes import admin, exchanges, jwks, login, workload_bindings
from auth_service.bootstrap import bootstrap_admin
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
        await key_store.ensure_key()
        await bootstrap_admin(database, settings, passwords)
        cleaning = asyncio.create_task(cleaner.run(), name="retention")
        yield
        await background.stop(cleaning)
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
        token_verifier=KeyStoreVerifier(key_store, settings, revocations),
        audit_table=AUDIT_LOG,
    )
    app.state.key_store = key_store
    app.state.passwords = passwords
    app.state.kubernetes_verifier = kubernetes_verifier
    app.state.token_issuer = TokenIssuer(key_store, settings)
    app.state.retention = cleaner
    return app
