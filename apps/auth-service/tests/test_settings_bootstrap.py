"""Configuration: the bootstrap admin, and production refusing weak key material."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from auth_service.config import Settings
from auth_service.main import build_app
from taskplane_common.commandline import ConfigurationError
from taskplane_testing.http import assert_problem


def _settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": url,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
    }
    return Settings(**{**values, **overrides})


async def test_the_bootstrap_admin_is_created_at_start_up(auth_db_url: str) -> None:
    settings = _settings(
        auth_db_url,
        bootstrap_admin_email="Boss@Example.com",
        bootstrap_admin_password="a-long-bootstrap-password",
    )
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        await app.state.startup.wait()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
            response = await client.post(
                "/api/v1/auth/token",
                data={"username": "boss@example.com", "password": "a-long-bootstrap-password"},
            )
            assert response.status_code == 200, response.text
            later = await client.post(
                "/api/v1/auth/register",
                json={"email": "next@example.com", "password": "another long password"},
            )
            assert later.json()["role"] == "member", "the bootstrap admin counts as first"
    again = build_app(settings)
    async with again.router.lifespan_context(again):
        await again.state.startup.wait()  # an existing bootstrap admin is left alone


def test_a_weak_bootstrap_password_refuses_start_up() -> None:
    """Bad configuration, refused before anything is served (no retry can fix it), even
    with a database that does not answer."""
    settings = _settings(
        "postgresql://u:p@127.0.0.1:1/x",
        bootstrap_admin_email="b@example.com",
        bootstrap_admin_password="short",
    )
    with pytest.raises(ConfigurationError, match="BOOTSTRAP_ADMIN_PASSWORD is too weak"):
        build_app(settings)


async def test_registration_can_be_closed(auth_db_url: str) -> None:
    app = build_app(_settings(auth_db_url, registration_enabled=False))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://auth") as client,
    ):
        await app.state.startup.wait()
        response = await client.post(
            "/api/v1/auth/register",
            json={"email": "x@example.com", "password": "a-long-enough-password"},
        )
    assert_problem(response, 403)


def test_production_refuses_default_key_material(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKPLANE_ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/taskplane")
    with pytest.raises(ValidationError, match="TASKPLANE_KEY_ENCRYPTION_KEY"):
        Settings()
    monkeypatch.setenv("TASKPLANE_KEY_ENCRYPTION_KEY", "too-short")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings()
    monkeypatch.setenv("TASKPLANE_KEY_ENCRYPTION_KEY", "k" * 48)
    assert Settings().is_production


def test_the_auth_service_cannot_disable_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKPLANE_AUTH_DISABLED", "true")
    with pytest.raises(ValidationError, match="cannot be set for the auth-service"):
        Settings()
