"""Profiles, preferences and the directory, with real tokens."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest

from taskplane_testing.http import assert_problem
from taskplane_testing.tokens import TokenFactory, bearer


def _user(tokens: TokenFactory, role: str = "member", **claims: Any) -> tuple[str, dict[str, str]]:
    user_id = str(uuid.uuid4())
    return user_id, bearer(tokens.token(user_id, roles=[role], **claims))


async def test_the_profile_is_created_lazily_from_the_token(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    user_id, headers = _user(tokens, email="ada@example.com", name="Ada Lovelace")
    response = await client.get("/api/v1/users/me", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == user_id
    assert body["email"] == "ada@example.com"
    assert body["display_name"] == "Ada Lovelace"
    assert body["timezone"] == "UTC"


async def test_patch_me_validates_and_stores_verbatim(
    client: httpx.AsyncClient, tokens: TokenFactory, db: psycopg.Connection[Any]
) -> None:
    user_id, headers = _user(tokens, email="b@example.com")
    name = "Robert'); DROP TABLE users.profiles;--"
    response = await client.patch(
        "/api/v1/users/me",
        json={"display_name": name, "timezone": "Europe/Paris", "locale": "fr-FR"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == name
    row = db.execute("SELECT display_name FROM users.profiles WHERE user_id = %s", (user_id,))
    assert row.fetchone() == (name,)
    for bad in (
        {"timezone": "Mars/Olympus"},
        {"locale": "xx_XX"},
        {"display_name": " "},
        {"email": "x@example.com"},
        {"display_name": "x" * 201},
    ):
        assert_problem(await client.patch("/api/v1/users/me", json=bad, headers=headers), 422)


async def test_preferences_have_defaults_and_can_be_replaced(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    _, headers = _user(tokens, role="viewer")
    defaults = (await client.get("/api/v1/users/me/preferences", headers=headers)).json()
    assert set(defaults["events"]) >= {"task.completed", "task.failed", "task.assigned"}
    assert defaults["events"]["task.failed"]["email"] is True
    assert defaults["events"]["task.completed"] == {"email": False, "webhook": True, "in_app": True}
    assert all(channels["webhook"] for channels in defaults["events"].values()), (
        "a webhook subscription alone delivers: the preference only mutes it"
    )
    wanted = {"events": {"task.completed": {"email": True, "webhook": False, "in_app": False}}}
    response = await client.put("/api/v1/users/me/preferences", json=wanted, headers=headers)
    assert response.status_code == 200, response.text
    stored = (await client.get("/api/v1/users/me/preferences", headers=headers)).json()
    assert stored["events"]["task.completed"] == wanted["events"]["task.completed"]
    assert stored["events"]["task.failed"] == defaults["events"]["task.failed"]
    partial = {"events": {"task.failed": {"email": False}}}
    response = await client.put("/api/v1/users/me/preferences", json=partial, headers=headers)
    assert response.status_code == 200, response.text
    stored = (await client.get("/api/v1/users/me/preferences", headers=headers)).json()
    assert stored["events"]["task.failed"] == {"email": False, "webhook": True, "in_app": True}
    bad = {"events": {"task.exploded": {"email": True}}}
    assert_problem(await client.put("/api/v1/users/me/preferences", json=bad, headers=headers), 422)


async def test_the_notification_service_reads_preferences_with_a_scope(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    user_id, headers = _user(tokens)
    await client.get("/api/v1/users/me", headers=headers)
    path = f"/api/v1/users/{user_id}/preferences"
    reader = bearer(tokens.service_token("users:read"))
    assert (await client.get(path, headers=reader)).status_code == 200
    assert_problem(await client.get(path, headers=headers), 403)
    assert_problem(await client.get(path, headers=bearer(tokens.service_token("events:read"))), 403)
    assert_problem(
        await client.get(f"/api/v1/users/{uuid.uuid4()}/preferences", headers=reader), 404
    )


async def test_the_notification_service_reads_a_profile_with_its_email(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    user_id, headers = _user(tokens, email="grace@example.com", name="Grace Hopper")
    await client.get("/api/v1/users/me", headers=headers)
    reader = bearer(tokens.service_token("users:read"))
    response = await client.get(f"/api/v1/users/{user_id}", headers=reader)
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "grace@example.com"
    assert response.json()["display_name"] == "Grace Hopper"
    assert_problem(await client.get(f"/api/v1/users/{user_id}", headers=headers), 403)
    assert_problem(await client.get(f"/api/v1/users/{uuid.uuid4()}", headers=reader), 404)
    assert (await client.get("/api/v1/users/me", headers=headers)).json()["id"] == user_id


async def test_the_directory_limits_fields_for_non_admins(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    for i in range(3):
        _, headers = _user(tokens, email=f"u{i}@example.com", name=f"User {i}")
        await client.get("/api/v1/users/me", headers=headers)
    _, member = _user(tokens)
    limited = (await client.get("/api/v1/users", headers=member)).json()["items"]
    assert limited
    assert all(set(item) == {"id", "display_name"} for item in limited)
    _, admin = _user(tokens, role="admin")
    full = (await client.get("/api/v1/users?limit=2", headers=admin)).json()
    assert len(full["items"]) == 2
    assert "email" in full["items"][0]
    rest = await client.get(f"/api/v1/users?cursor={full['next_cursor']}", headers=admin)
    assert {i["id"] for i in rest.json()["items"]}.isdisjoint({i["id"] for i in full["items"]})
    by_email = (await client.get("/api/v1/users?q=u1@", headers=member)).json()["items"]
    assert by_email == [], "members cannot search by email"
    assert len((await client.get("/api/v1/users?q=u1@", headers=admin)).json()["items"]) == 1


@pytest.mark.parametrize(
    "path", ["/api/v1/users/me", "/api/v1/users", "/api/v1/users/me/preferences"]
)
async def test_every_route_needs_a_valid_token(
    client: httpx.AsyncClient, tokens: TokenFactory, path: str
) -> None:
    assert_problem(await client.get(path), 401)
    assert_problem(await client.get(path, headers=bearer(tokens.token(aud="other"))), 401)


async def test_service_tokens_have_no_profile(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    worker = bearer(tokens.service_token("queues:work"))
    assert_problem(await client.get("/api/v1/users/me", headers=worker), 403)
