"""The console service in process (no other service needed): headers, the SPA fallback,
and what it refuses before any upstream is called."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from console_service.config import Settings
from console_service.main import CONTENT_SECURITY_POLICY, build_app
from taskplane_testing.http import asgi_client, assert_problem
from taskplane_testing.processes import nowhere_url


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "index.html").write_text("<!doctype html><title>console</title>")
    immutable = tmp_path / "_app" / "immutable"
    immutable.mkdir(parents=True)
    (immutable / "bundle.abc.js").write_text("export {};")
    (tmp_path.parent / "secret.txt").write_text("outside the build")
    settings = Settings(
        jwks_url=f"{nowhere_url()}/.well-known/jwks.json",
        static_dir=tmp_path,
        auth_url=nowhere_url(),
        task_service_url=nowhere_url(),
        user_service_url=nowhere_url(),
        notification_service_url=nowhere_url(),
    )
    app = build_app(settings)
    async with app.router.lifespan_context(app), asgi_client(app, "http://console") as c:
        yield c


async def test_every_answer_carries_the_strict_csp(client: httpx.AsyncClient) -> None:
    for path in ("/", "/tasks?status=dead", "/session", "/healthz"):
        response = await client.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-frame-options"] == "DENY"
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY


async def test_spa_fallback_and_asset_caching(client: httpx.AsyncClient) -> None:
    page = await client.get("/queues/default/tasks/123")
    assert page.status_code == 200
    assert "<title>console</title>" in page.text
    assert page.headers["cache-control"] == "no-cache"
    asset = await client.get("/_app/immutable/bundle.abc.js")
    assert asset.headers["content-type"].startswith("text/javascript")
    assert "immutable" in asset.headers["cache-control"]
    escape = await client.get("/..%2Fsecret.txt")
    assert "outside the build" not in escape.text


async def test_no_session_no_api(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/session"), 401)
    assert_problem(await client.get("/api/v1/tasks"), 401)
    assert_problem(await client.delete("/session"), 401)


async def test_sign_in_needs_the_csrf_header_and_same_origin(client: httpx.AsyncClient) -> None:
    body = {"email": "a@example.org", "password": "whatever it is"}
    assert_problem(await client.post("/session", json=body), 403)
    cross = await client.post(
        "/session", json=body, headers={"x-csrf-token": "login", "origin": "https://evil.example"}
    )
    assert_problem(cross, 403)
    # Same origin with the header: the auth-service is down here, so 502, not a crash.
    down = await client.post(
        "/session", json=body, headers={"x-csrf-token": "login", "origin": "http://console"}
    )
    assert_problem(down, 502)
    assert_problem(await client.post("/session", json={"email": ""}), 422)
