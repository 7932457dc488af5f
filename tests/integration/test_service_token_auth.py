"""Service tokens end to end: the client exchanges a real auth-service token and calls a
service that verifies the access token against the auth-service's JWKS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from auth_service.config import Settings as AuthSettings
from auth_service.main import build_app as build_auth_app
from taskplane_client.auth import ServiceTokenAuth
from taskplane_client.errors import TokenExchangeError
from taskplane_common.app import create_app
from taskplane_common.migrations import upgrade
from taskplane_common.principals import Principal, require_scope
from taskplane_common.settings import ServiceSettings
from taskplane_common.token_verifier import JwksTokenVerifier
from taskplane_testing.postgres import PostgresServer

ADMIN = "admin@example.com"
PASSWORD = "correct horse battery staple"


class HostRouter(httpx.AsyncBaseTransport):
    """Routes requests to in-process apps by host name, like DNS would between pods."""

    def __init__(self) -> None:
        self.transports: dict[str, httpx.ASGITransport] = {}

    def add(self, host: str, app: FastAPI) -> None:
        self.transports[host] = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transports[request.url.host].handle_async_request(request)


@pytest.fixture(scope="module")
async def platform(postgres_server: PostgresServer) -> AsyncIterator[HostRouter]:
    url = postgres_server.create_database("service_token_auth")
    upgrade("auth_service", url)
    auth_app = build_auth_app(
        AuthSettings(
            DATABASE_URL=url, argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1
        )
    )
    router = APIRouter()

    @router.get("/whoami")
    async def whoami(
        principal: Annotated[Principal, Depends(require_scope("queues:work"))],
    ) -> dict[str, Any]:
        return {"subject": principal.subject, "scopes": sorted(principal.scopes)}

    transport = HostRouter()
    transport.add("auth", auth_app)
    jwks_client = httpx.AsyncClient(transport=transport)
    verifier = JwksTokenVerifier(
        "http://auth/.well-known/jwks.json",
        issuer="taskplane-auth",
        audience="taskplane",
        http_client=jwks_client,
    )
    api_app = create_app(
        settings=ServiceSettings(jwks_url="http://auth/.well-known/jwks.json"),
        title="api",
        version="0",
        routers=[router],
        database=None,
        token_verifier=verifier,
    )
    transport.add("api", api_app)
    async with auth_app.router.lifespan_context(auth_app):
        await auth_app.state.startup.wait()
        yield transport
    await jwks_client.aclose()


async def service_token(transport: HostRouter, *scopes: str) -> str:
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
        await client.post("/api/v1/auth/register", json={"email": ADMIN, "password": PASSWORD})
        login = await client.post(
            "/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD}
        )
        admin = login.json()["access_token"]
        created = await client.post(
            "/api/v1/admin/service-tokens",
            json={"name": "worker", "scopes": list(scopes)},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert created.status_code == 201, created.text
        token: str = created.json()["token"]
        return token


async def test_service_token_is_exchanged_and_renewed(platform: HostRouter) -> None:
    token = await service_token(platform, "queues:work")
    auth = ServiceTokenAuth(token, auth_url="http://auth")
    async with httpx.AsyncClient(transport=platform, base_url="http://api", auth=auth) as client:
        first = await client.get("/whoami")
        assert first.status_code == 200, first.text
        assert "queues:work" in first.json()["scopes"]
        sent = first.request.headers["authorization"]
        assert token not in sent, "the service token itself must never reach the API"

    # A renewal margin longer than the token's lifetime renews before every call.
    eager = ServiceTokenAuth(token, auth_url="http://auth", renew_margin_s=86_400)
    async with httpx.AsyncClient(transport=platform, base_url="http://api", auth=eager) as client:
        tokens = {(await client.get("/whoami")).request.headers["authorization"] for _ in range(3)}
        assert len(tokens) == 3

    stale = ServiceTokenAuth(token, auth_url="http://auth")
    stale._access, stale._expires_at = "not-a-jwt", float("inf")  # e.g. signed by a retired key
    async with httpx.AsyncClient(transport=platform, base_url="http://api", auth=stale) as client:
        renewed = await client.get("/whoami")
        assert renewed.status_code == 200, "a 401 renews the access token once and retries"


async def test_a_revoked_or_unknown_service_token_fails_clearly(platform: HostRouter) -> None:
    auth = ServiceTokenAuth("tps_" + "x" * 40, auth_url="http://auth")
    async with httpx.AsyncClient(transport=platform, base_url="http://api", auth=auth) as client:
        with pytest.raises(TokenExchangeError, match="refused"):
            await client.get("/whoami")


def test_configuration_errors_are_explicit() -> None:
    with pytest.raises(ValueError, match="TASKPLANE_TOKEN"):
        ServiceTokenAuth("")
    with pytest.raises(ValueError, match="TASKPLANE_AUTH_URL"):
        ServiceTokenAuth("tps_abc")
    plain = ServiceTokenAuth("eyJhbGciOiJFUzI1NiJ9.e30.sig")
    request = httpx.Request("GET", "http://api/whoami")
    flow = plain.sync_auth_flow(request)
    assert next(flow).headers["authorization"] == "Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig"


async def test_the_exchange_is_bounded_by_the_clients_timeout() -> None:
    """A hung auth service must not hang the worker: the exchange inherits the timeout."""
    seen: list[dict[str, float | None]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        if request.url.path.endswith("/service-token"):
            return httpx.Response(200, json={"access_token": "jwt", "expires_in": 900})
        return httpx.Response(200, json={})

    auth = ServiceTokenAuth("tps_abc", auth_url="http://auth")
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler), auth=auth, timeout=httpx.Timeout(3.0)
    ) as client:
        await client.get("http://api/whoami")
    assert len(seen) == 2
    assert seen[0] == seen[1] == {"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 3.0}
