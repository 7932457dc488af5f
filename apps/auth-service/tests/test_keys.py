"""Signing-key rotation, and the auth-service's own token checks (attack suite)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from auth_service.config import Settings
from auth_service.main import build_app
from taskplane_common.errors import ProblemError
from taskplane_common.token_verifier import JwksTokenVerifier
from taskplane_testing.http import asgi_client, assert_problem
from taskplane_testing.tokens import bearer


def _verifier(app: FastAPI) -> JwksTokenVerifier:
    """What another service runs, fetching this auth-service's JWKS over HTTP."""
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://auth-service"
    )
    return JwksTokenVerifier(
        "http://auth-service/.well-known/jwks.json",
        issuer="taskplane-auth",
        audience="taskplane",
        min_refetch_interval_s=0,
        http_client=client,
    )


async def test_jwks_publishes_only_public_p256_keys(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "EC"
        assert key["crv"] == "P-256"
        assert key["alg"] == "ES256"
        assert "d" not in key


async def test_private_keys_are_encrypted_at_rest(db: Any, client: httpx.AsyncClient) -> None:
    await client.get("/.well-known/jwks.json")
    pem = db.execute("SELECT private_key_pem FROM auth.signing_keys LIMIT 1").fetchone()[0]
    assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")


async def test_rotation_keeps_old_tokens_valid_until_the_key_is_retired(
    app: FastAPI, client: httpx.AsyncClient, admin_token: str
) -> None:
    remote = _verifier(app)
    old_kid = jwt.get_unverified_header(admin_token)["kid"]
    assert (await remote.verify(admin_token)).is_admin

    rotated = await client.post("/api/v1/admin/signing-keys", headers=bearer(admin_token))
    assert rotated.status_code == 201, rotated.text
    new_kid = rotated.json()["kid"]
    assert new_kid != old_kid

    fresh = (
        await client.post(
            "/api/v1/auth/token",
            data={"username": "admin@example.com", "password": "correct horse battery staple"},
        )
    ).json()["access_token"]
    assert jwt.get_unverified_header(fresh)["kid"] == new_kid
    fetches = remote.fetches
    assert (await remote.verify(fresh)).is_admin, "the new kid is fetched without a restart"
    assert remote.fetches == fetches + 1
    assert (await remote.verify(admin_token)).is_admin, "old tokens keep working"
    kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, new_kid} <= kids

    assert_problem(
        await client.delete(f"/api/v1/admin/signing-keys/{new_kid}", headers=bearer(fresh)), 409
    )
    retired = await client.delete(f"/api/v1/admin/signing-keys/{old_kid}", headers=bearer(fresh))
    assert retired.status_code == 204
    assert_problem(await client.get("/api/v1/admin/users", headers=bearer(admin_token)), 401)
    with pytest.raises(ProblemError) as error:
        await _verifier(app).verify(admin_token)
    assert error.value.status == 401
    listing = await client.get("/api/v1/admin/signing-keys", headers=bearer(fresh))
    assert [k["kid"] for k in listing.json()] == [new_kid]


def _forge(token: str, **changes: Any) -> dict[str, Any]:
    claims = jwt.decode(token, options={"verify_signature": False})
    claims.update(changes)
    return claims


async def test_own_endpoints_refuse_forged_tokens(
    app: FastAPI, client: httpx.AsyncClient, admin_token: str
) -> None:
    kid = jwt.get_unverified_header(admin_token)["kid"]
    stranger = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    header, payload, signature = admin_token.split(".")
    forged = [
        jwt.encode(_forge(admin_token), None, "none", headers={"kid": kid}),
        jwt.encode(_forge(admin_token), stranger, "ES256", headers={"kid": kid}),
        jwt.encode(_forge(admin_token), stranger, "ES256", headers={"kid": "unknown-kid"}),
        f"{header}.{payload[:-4]}AAAA.{signature}",
    ]
    for token in forged:
        assert_problem(await client.get("/api/v1/admin/users", headers=bearer(token)), 401)
    # Claims the auth-service would never sign are covered by the common attack suite;
    # here the real store refuses an expired token it signed itself.
    signing_kid, key = await app.state.key_store.signing_key()
    expired = jwt.encode(
        _forge(admin_token, exp=now - 120, iat=now - 1000, nbf=now - 1000),
        key,
        "ES256",
        headers={"kid": signing_kid},
    )
    assert_problem(await client.get("/api/v1/admin/users", headers=bearer(expired)), 401)


async def test_jwks_carries_an_etag_and_answers_304_to_a_current_one(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    first = await client.get("/.well-known/jwks.json")
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert first.headers["cache-control"] == "public, max-age=60"
    assert first.headers["content-type"] == "application/json"
    for held in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        unchanged = await client.get("/.well-known/jwks.json", headers={"If-None-Match": held})
        assert unchanged.status_code == 304, held
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == etag
        assert unchanged.headers["cache-control"] == "public, max-age=60"
    stale = await client.get("/.well-known/jwks.json", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200
    assert stale.content == first.content

    rotated = await client.post("/api/v1/admin/signing-keys", headers=bearer(admin_token))
    assert rotated.status_code == 201, rotated.text
    after = await client.get("/.well-known/jwks.json", headers={"If-None-Match": etag})
    assert after.status_code == 200, "a new key list has a new ETag"
    assert after.headers["etag"] != etag
    assert rotated.json()["kid"] in {key["kid"] for key in after.json()["keys"]}


async def test_nothing_is_signed_before_the_start_up_is_done(
    settings_for: Callable[..., Settings],
) -> None:
    """The database answers, but this replica's start-up has not run yet (it is pausing
    between attempts, say): the JWKS is a 503 (an empty set would be cached by verifiers
    as "no keys"), and so are a login and a registration (the first account would become
    admin before the bootstrap admin exists); /readyz names the start-up."""
    app = build_app(
        settings_for(
            bootstrap_admin_email="boss@example.com",
            bootstrap_admin_password="a-long-bootstrap-password",
        )
    )
    account = {"email": "early@example.com", "password": "an early passphrase"}
    login = {"username": account["email"], "password": account["password"]}
    async with asgi_client(app, "http://auth-service") as client:
        for early in (
            await client.get("/.well-known/jwks.json"),
            await client.post("/api/v1/auth/register", json=account),
            await client.post("/api/v1/auth/token", data=login),
        ):
            assert assert_problem(early, 503)["type"].endswith("/database-unavailable")
        ready = assert_problem(await client.get("/readyz"), 503)
        assert ready["checks"] == {"start-up": False, "database": True}
        async with app.router.lifespan_context(app):
            await app.state.startup.wait()
            assert (await client.get("/readyz")).status_code == 200
            assert (await client.get("/.well-known/jwks.json")).json()["keys"]
            registered = await client.post("/api/v1/auth/register", json=account)
            assert registered.json()["role"] == "member", "the bootstrap admin came first"
            assert (await client.post("/api/v1/auth/token", data=login)).status_code == 200
