"""Service tokens for workers and the operator: created by admins, exchanged, revocable."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jwt

from taskplane_testing.http import assert_problem
from taskplane_testing.tokens import bearer

Account = Callable[..., Awaitable[dict[str, Any]]]


async def _create(client: httpx.AsyncClient, admin_token: str, **body: Any) -> httpx.Response:
    return await client.post("/api/v1/admin/service-tokens", json=body, headers=bearer(admin_token))


async def test_admin_creates_a_worker_token_that_exchanges_for_scoped_access(
    client: httpx.AsyncClient, admin_token: str, db: Any
) -> None:
    created = await _create(client, admin_token, name="worker-emails", scopes=["queues:work"])
    assert created.status_code == 201, created.text
    secret = created.json()["token"]
    assert secret.startswith("tps_")
    stored = db.execute("SELECT token_hash FROM auth.service_tokens").fetchone()[0]
    assert secret not in stored, "only a hash is stored"

    exchanged = await client.post("/api/v1/auth/service-token", json={"token": secret})
    assert exchanged.status_code == 200, exchanged.text
    access = exchanged.json()["access_token"]
    claims = jwt.decode(access, options={"verify_signature": False})
    assert claims["scope"] == "queues:work"
    assert claims["roles"] == []
    assert claims["sub"].startswith("service:")
    assert claims["exp"] - claims["iat"] <= 900

    listing = await client.get("/api/v1/admin/service-tokens", headers=bearer(admin_token))
    assert "token" not in listing.json()[0]
    assert listing.json()[0]["last_used_at"] is not None

    token_id = created.json()["id"]
    revoked = await client.delete(
        f"/api/v1/admin/service-tokens/{token_id}", headers=bearer(admin_token)
    )
    assert revoked.status_code == 204
    assert_problem(await client.post("/api/v1/auth/service-token", json={"token": secret}), 401)


async def test_only_admins_create_service_tokens_and_scopes_are_checked(
    client: httpx.AsyncClient, admin_token: str, register: Account, login: Account
) -> None:
    await register("member@example.com")
    member = (await login("member@example.com"))["access_token"]
    assert_problem(await _create(client, member, name="x", scopes=["queues:admin"]), 403)
    assert_problem(await _create(client, admin_token, name="x", scopes=["root"]), 422)
    assert_problem(await _create(client, admin_token, name="x", scopes=[]), 422)


async def test_a_service_token_is_not_a_user(client: httpx.AsyncClient, admin_token: str) -> None:
    secret = (await _create(client, admin_token, name="op", scopes=["queues:admin"])).json()[
        "token"
    ]
    access = (await client.post("/api/v1/auth/service-token", json={"token": secret})).json()[
        "access_token"
    ]
    assert_problem(await client.get("/api/v1/admin/users", headers=bearer(access)), 403)
    assert_problem(
        await client.post("/api/v1/auth/service-token", json={"token": "tps_guess"}), 401
    )
