"""Fixtures for the user-service tests: a migrated database, the app verifying real ES256
tokens from an in-process JWKS, and an HTTP client; tables are emptied after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from taskplane_common.migrations import upgrade
from taskplane_testing.http import asgi_client
from taskplane_testing.postgres import PostgresServer, empty_schema
from taskplane_testing.tokens import JWKS_URL, TokenFactory
from user_service.config import Settings
from user_service.main import build_app


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="session")
def user_db_url(postgres_server: PostgresServer) -> str:
    url = postgres_server.create_database("user_service_tests")
    upgrade("user_service", url)
    return url


def build_test_app(url: str, tokens: TokenFactory) -> FastAPI:
    app = build_app(Settings(DATABASE_URL=url, jwks_url=JWKS_URL))
    app.state.token_verifier = tokens.verifier()
    return app


@pytest.fixture(scope="session")
async def app(user_db_url: str, tokens: TokenFactory) -> AsyncIterator[FastAPI]:
    application = build_test_app(user_db_url, tokens)
    yield application
    await application.state.database.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, "http://user-service") as c:
        yield c


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "user_db_url" in request.fixturenames:
        empty_schema(request.getfixturevalue("user_db_url"), "users")


@pytest.fixture
def db(user_db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(user_db_url, autocommit=True) as connection:
        yield connection
