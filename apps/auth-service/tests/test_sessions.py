"""Refresh rotation, reuse detection, logout, deactivation and role changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jwt

from taskplane_testing.http import assert_problem
from taskplane_testing.tokens import bearer

Account = Callable[..., Awaitable[dict[str, Any]]]


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def test_refresh_rotates_and_the_old_token_stops_working(
    client: httpx.AsyncClient, register: Account, login: Account
) -> None:
    await register("r@example.com")
    first = await login("r@example.com")
    second = await _refresh(client, first["refresh_token"])
    assert second.status_code == 200, second.text
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    assert pair["access_token"] != first["access_token"]
    assert second.headers["cache-control"] == "no-store"
    assert_problem(await _refresh(client, first["refresh_token"]), 401)


async def test_reuse_of_a_refresh_token_revokes_the_whole_family(
    client: httpx.AsyncClient, register: Account, login: Account
) -> None:
    await register("victim@example.com")
    stolen = await login("victim@example.com")
    legit = (await _refresh(client, stolen["refresh_token"])).json()
    other_session = await login("victim@example.com")
    assert_problem(await _refresh(client, stolen["refresh_token"]), 401)
    assert_problem(await _refresh(client, legit["refresh_token"]), 401)
    assert (await _refresh(client, other_session["refresh_token"])).status_code == 200


async def test_logout_revokes_the_presented_refresh_token(
    client: httpx.AsyncClient, register: Account, login: Account
) -> None:
    await register("out@example.com")
    pair = await login("out@example.com")
    response = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}
    )
    assert response.status_code == 204
    assert_problem(await _refresh(client, pair["refresh_token"]), 401)
    unknown = await client.post("/api/v1/auth/logout", json={"refresh_token": "made-up"})
    assert unknown.status_code == 204


async def test_garbage_refresh_tokens_are_401(client: httpx.AsyncClient) -> None:
    for token in ("x", "' OR 1=1 --", "a" * 512):
        assert_problem(await _refresh(client, token), 401)
    assert_problem(await client.post("/api/v1/auth/refresh", json={"refresh_token": ""}), 422)


async def test_a_deactivated_user_cannot_refresh_or_log_in(
    client: httpx.AsyncClient, register: Account, login: Account, admin_token: str
) -> None:
    user = await register("leaver@example.com")
    pair = await login("leaver@example.com")
    response = await client.patch(
        f"/api/v1/admin/users/{user['id']}", json={"is_active": False}, headers=bearer(admin_token)
    )
    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False
    assert_problem(await _refresh(client, pair["refresh_token"]), 401)
    denied = await client.post(
        "/api/v1/auth/token",
        data={"username": "leaver@example.com", "password": "correct horse battery staple"},
    )
    assert_problem(denied, 401)


async def test_role_changes_reach_the_next_access_token(
    client: httpx.AsyncClient, register: Account, login: Account, admin_token: str
) -> None:
    user = await register("promo@example.com")
    pair = await login("promo@example.com")
    await client.patch(
        f"/api/v1/admin/users/{user['id']}", json={"role": "viewer"}, headers=bearer(admin_token)
    )
    refreshed = (await _refresh(client, pair["refresh_token"])).json()
    claims = jwt.decode(refreshed["access_token"], options={"verify_signature": False})
    assert claims["roles"] == ["viewer"]


async def test_admin_endpoints_need_an_active_admin(
    client: httpx.AsyncClient, register: Account, login: Account, admin_token: str
) -> None:
    member = await register("m@example.com")
    member_token = (await login("m@example.com"))["access_token"]
    assert_problem(await client.get("/api/v1/admin/users", headers=bearer(member_token)), 403)
    assert_problem(await client.get("/api/v1/admin/users"), 401)
    listing = await client.get("/api/v1/admin/users", headers=bearer(admin_token))
    assert {u["email"] for u in listing.json()["items"]} == {"admin@example.com", "m@example.com"}
    promote = await client.patch(
        f"/api/v1/admin/users/{member['id']}", json={"role": "admin"}, headers=bearer(admin_token)
    )
    assert promote.json()["role"] == "admin"
    # The member's old token still says "member"; the database now says admin: still 403,
    # the token's roles decide until it is refreshed.
    assert_problem(await client.get("/api/v1/admin/users", headers=bearer(member_token)), 403)


async def test_a_demoted_admin_token_is_refused_by_admin_endpoints(
    client: httpx.AsyncClient, register: Account, login: Account, admin_token: str
) -> None:
    second = await register("second-admin@example.com")
    await client.patch(
        f"/api/v1/admin/users/{second['id']}", json={"role": "admin"}, headers=bearer(admin_token)
    )
    second_token = (await login("second-admin@example.com"))["access_token"]
    await client.patch(
        f"/api/v1/admin/users/{second['id']}", json={"role": "member"}, headers=bearer(admin_token)
    )
    assert_problem(await client.get("/api/v1/admin/users", headers=bearer(second_token)), 403)


async def test_the_last_admin_cannot_be_removed(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    me = jwt.decode(admin_token, options={"verify_signature": False})["sub"]
    for change in ({"role": "member"}, {"is_active": False}):
        response = await client.patch(
            f"/api/v1/admin/users/{me}", json=change, headers=bearer(admin_token)
        )
        assert_problem(response, 409)
