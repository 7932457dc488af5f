"""Registration, login and the bad input around them."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jwt
import psycopg
import pytest

from taskplane_testing.http import assert_problem

PASSWORD = "correct horse battery staple"
Account = Callable[..., Awaitable[dict[str, Any]]]


async def test_register_returns_the_user_without_password_fields(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "Ada@Example.com", "password": PASSWORD, "full_name": "Ada"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "ada@example.com"
    assert body["role"] == "admin", "the first account is the admin"
    assert not any("password" in key or "hash" in key for key in body)
    assert PASSWORD not in response.text


async def test_later_accounts_are_members_and_duplicates_conflict(
    client: httpx.AsyncClient, register: Account
) -> None:
    await register("first@example.com")
    second = await register("second@example.com")
    assert second["role"] == "member"
    duplicate = await client.post(
        "/api/v1/auth/register", json={"email": "SECOND@example.com", "password": PASSWORD}
    )
    assert_problem(duplicate, 409)


@pytest.mark.parametrize(
    "password",
    ["short", "aaaaaaaaaaaaaaaa", "abababababababab", "x" * 300, "weak@example.com"],
)
async def test_weak_passwords_are_refused(client: httpx.AsyncClient, password: str) -> None:
    response = await client.post(
        "/api/v1/auth/register", json={"email": "weak@example.com", "password": password}
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["body", "password"]
    assert password not in response.text


@pytest.mark.parametrize(
    "email", ["not-an-email", "a@", "@b.com", "a b@c.com", "", "x" * 400 + "@example.com"]
)
async def test_malformed_emails_are_refused(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert_problem(response, 422)


async def test_unknown_fields_and_oversized_bodies_are_refused(client: httpx.AsyncClient) -> None:
    extra = await client.post(
        "/api/v1/auth/register",
        json={"email": "r@example.com", "password": PASSWORD, "role": "admin"},
    )
    assert_problem(extra, 422)
    huge = await client.post(
        "/api/v1/auth/register",
        json={"email": "h@example.com", "password": PASSWORD, "full_name": "x" * 2_000_000},
    )
    assert_problem(huge, 413)


async def test_sql_looking_input_is_stored_verbatim(
    client: httpx.AsyncClient, register: Account, db: psycopg.Connection[Any]
) -> None:
    name = "Robert'); DROP TABLE auth.users;--"
    user = await register("bobby@example.com", full_name=name)
    assert user["full_name"] == name
    row = db.execute("SELECT full_name FROM auth.users WHERE id = %s", (user["id"],)).fetchone()
    assert row == (name,)
    login = await client.post(
        "/api/v1/auth/token", data={"username": "' OR 1=1 --", "password": PASSWORD}
    )
    assert_problem(login, 401)


async def test_login_issues_a_well_formed_es256_token(
    client: httpx.AsyncClient, register: Account, login: Account
) -> None:
    user = await register("tok@example.com")
    pair = await login("TOK@example.com")
    assert pair["token_type"] == "bearer"
    assert 0 < pair["expires_in"] <= 900
    header = jwt.get_unverified_header(pair["access_token"])
    assert header["alg"] == "ES256"
    assert header["kid"]
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    assert claims["sub"] == user["id"]
    assert claims["iss"] == "taskplane-auth"
    assert claims["aud"] == "taskplane"
    assert claims["exp"] - claims["iat"] <= 900
    assert claims["nbf"] <= time.time() + 1
    assert claims["jti"]
    assert claims["roles"] == ["admin"]
    assert "queues:admin" in claims["scope"].split()


async def test_wrong_password_and_unknown_email_are_indistinguishable(
    client: httpx.AsyncClient, register: Account
) -> None:
    await register("known@example.com")
    wrong = await client.post(
        "/api/v1/auth/token", data={"username": "known@example.com", "password": "nope" * 4}
    )
    unknown = await client.post(
        "/api/v1/auth/token", data={"username": "ghost@example.com", "password": "nope" * 4}
    )
    for response in (wrong, unknown):
        assert_problem(response, 401)
    assert wrong.json() == unknown.json()
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]


async def test_unknown_emails_cost_a_password_verification(
    app: Any, client: httpx.AsyncClient, register: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Timing: both paths run exactly one Argon2 verification."""
    await register("timed@example.com")
    passwords = app.state.passwords
    calls: list[str] = []
    original = passwords._verify

    def counting(hash_: str, password: str) -> bool:
        calls.append(hash_)
        return bool(original(hash_, password))

    monkeypatch.setattr(passwords, "_verify", counting)
    for username in ("timed@example.com", "nobody@example.com"):
        await client.post("/api/v1/auth/token", data={"username": username, "password": "x" * 12})
    assert len(calls) == 2
    assert all(call.startswith("$argon2id$") for call in calls)


async def test_login_never_logs_the_password(
    client: httpx.AsyncClient, register: Account, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "an-unmistakable-secret-value"
    with caplog.at_level(logging.DEBUG):
        await register("logs@example.com", password=secret)
        await client.post(
            "/api/v1/auth/token", data={"username": "logs@example.com", "password": secret}
        )
        await client.post(
            "/api/v1/auth/token", data={"username": "logs@example.com", "password": secret + "x"}
        )
    assert caplog.records, "the logins should have been logged"
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert secret not in str(record.__dict__)


async def test_token_endpoint_needs_the_password_grant(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token",
        data={"username": "a@example.com", "password": PASSWORD, "grant_type": "implicit"},
    )
    assert_problem(response, 422)
