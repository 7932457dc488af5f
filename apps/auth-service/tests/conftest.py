"""Fixtures for the auth-service tests: a migrated database on the session's PostgreSQL
server, the app with its start-up run, an HTTP client and account helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from auth_service.config import Settings
from auth_service.main import build_app
from taskplane_common.migrations import upgrade
from taskplane_testing.http import asgi_client
from taskplane_testing.postgres import PostgresServer, empty_schema

PASSWORD = "correct horse battery staple"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Cheap Argon2 parameters: the tests exercise the logic, not the work factor."""
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        "key_cache_ttl_s": 0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def auth_db_url(postgres_server: PostgresServer) -> str:
    url = postgres_server.create_database("auth_service_tests")
    upgrade("auth_service", url)
    return url


SettingsFactory = Callable[..., Settings]


@pytest.fixture(scope="session")
def settings_for(auth_db_url: str) -> SettingsFactory:
    """Settings on the test database with some values overridden (an app of its own)."""

    def _settings(**overrides: Any) -> Settings:
        return make_settings(auth_db_url, **overrides)

    return _settings


@pytest.fixture(scope="session")
async def app(auth_db_url: str) -> AsyncIterator[FastAPI]:
    application = build_app(make_settings(auth_db_url))
    async with application.router.lifespan_context(application):
        await application.state.startup.wait()
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, "http://auth-service") as c:
        yield c


@pytest.fixture
def db(auth_db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(auth_db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "auth_db_url" in request.fixturenames:
        empty_schema(request.getfixturevalue("auth_db_url"), "auth", keep=("signing_keys",))


Register = Callable[..., Awaitable[dict[str, Any]]]
Login = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def register(client: httpx.AsyncClient) -> Register:
    async def _register(email: str, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
        response = await client.post(
            "/api/v1/auth/register", json={"email": email, "password": password, **extra}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return _register


@pytest.fixture
def login(client: httpx.AsyncClient) -> Login:
    async def _login(email: str, password: str = PASSWORD) -> dict[str, Any]:
        response = await client.post(
            "/api/v1/auth/token", data={"username": email, "password": password}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return _login


@pytest.fixture
async def admin_token(register: Register, login: Login) -> str:
    """The first registered account is the admin."""
    await register("admin@example.com")
    token: str = (await login("admin@example.com"))["access_token"]
    return token
