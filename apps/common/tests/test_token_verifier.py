"""The JWKS verifier refuses every forged, stale or misdirected token (attack suite)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Depends, FastAPI

from taskplane_common import revocations, token_verifier
from taskplane_common.app import create_app
from taskplane_common.commandline import ConfigurationError
from taskplane_common.errors import ProblemError
from taskplane_common.principals import Principal, require_role, require_scope, require_writer
from taskplane_common.settings import ServiceSettings
from taskplane_common.token_verifier import JwksTokenVerifier
from taskplane_testing.http import assert_problem
from taskplane_testing.tokens import TokenFactory, bearer


@pytest.fixture
def factory() -> TokenFactory:
    return TokenFactory()


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _refused(factory: TokenFactory, token: str) -> None:
    with pytest.raises(ProblemError) as error:
        await factory.verifier().verify(token)
    assert error.value.status == 401
    assert error.value.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_valid_token_becomes_a_principal(factory: TokenFactory) -> None:
    user_id = uuid.uuid4()
    token = factory.token(user_id, roles=["viewer"], email="v@example.com")
    principal = await factory.verifier().verify(token)
    assert principal.user_id == user_id
    assert principal.roles == {"viewer"}
    assert principal.email == "v@example.com"
    assert not principal.can_write


async def test_alg_none_is_refused(factory: TokenFactory) -> None:
    claims = factory.claims()
    token = _b64({"alg": "none", "typ": "JWT", "kid": factory.kid}) + "." + _b64(claims) + "."
    await _refused(factory, token)


async def test_hs256_signed_with_the_public_key_is_refused(factory: TokenFactory) -> None:
    public_pem = (
        factory.keys[factory.kid]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": factory.kid}
    signing_input = (_b64(header) + "." + _b64(factory.claims())).encode()
    signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    token = signing_input.decode() + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    await _refused(factory, token)


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", -120),
        ("nbf", 600),
        ("iat", 600),
        ("aud", "someone-else"),
        ("iss", "https://evil.example"),
    ],
)
async def test_bad_registered_claims_are_refused(
    factory: TokenFactory, claim: str, value: Any
) -> None:
    if isinstance(value, int):
        value = int(time.time()) + value
    await _refused(factory, factory.token(**{claim: value}))


@pytest.mark.parametrize("claim", ["exp", "sub", "jti", "iss", "aud", "nbf", "iat"])
async def test_missing_required_claims_are_refused(factory: TokenFactory, claim: str) -> None:
    claims = factory.claims()
    del claims[claim]
    token = jwt.encode(claims, factory.keys[factory.kid], "ES256", headers={"kid": factory.kid})
    await _refused(factory, token)


async def test_tampered_payload_is_refused(factory: TokenFactory) -> None:
    header, _, signature = factory.token(roles=["viewer"]).split(".")
    forged = _b64(factory.claims(roles=["admin"]))
    await _refused(factory, f"{header}.{forged}.{signature}")


async def test_unknown_kid_and_foreign_key_are_refused(factory: TokenFactory) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(factory.claims(), stranger, "ES256", headers={"kid": factory.kid})
    await _refused(factory, token)
    token = jwt.encode(factory.claims(), stranger, "ES256", headers={"kid": "unknown"})
    await _refused(factory, token)
    token = jwt.encode(factory.claims(), factory.keys[factory.kid], "ES256")
    await _refused(factory, token)


async def test_garbage_is_refused(factory: TokenFactory) -> None:
    for token in ("", "a.b", "not-a-jwt", "a.b.c", "..."):
        await _refused(factory, token)


async def test_unknown_kids_do_not_amplify_into_jwks_fetches(factory: TokenFactory) -> None:
    now = [1000.0]
    verifier = factory.verifier(min_refetch_interval_s=5, clock=lambda: now[0])
    await verifier.verify(factory.token())
    stranger = ec.generate_private_key(ec.SECP256R1())
    for i in range(50):
        forged = jwt.encode(factory.claims(), stranger, "ES256", headers={"kid": f"k{i}"})
        with pytest.raises(ProblemError):
            await verifier.verify(forged)
        if i == 24:
            now[0] += 6
    assert factory.jwks_requests == 2, "one initial fetch plus one refetch per interval"


async def test_a_new_key_is_picked_up_without_restart(factory: TokenFactory) -> None:
    now = [1000.0]
    verifier = factory.verifier(min_refetch_interval_s=5, clock=lambda: now[0])
    old_token = factory.token()
    await verifier.verify(old_token)
    factory.add_key()
    now[0] += 6
    new_token = factory.token()
    assert jwt.get_unverified_header(new_token)["kid"] == factory.kid
    await verifier.verify(new_token)
    await verifier.verify(old_token)
    assert factory.jwks_requests == 2


class CountingChecks:
    """Counts full signature checks (``decode_token`` calls) of the verifier."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = token_verifier.decode_token

        def counting(*args: Any, **kwargs: Any) -> dict[str, Any]:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(token_verifier, "decode_token", counting)


async def test_a_verified_token_is_remembered_within_a_bounded_cache(
    factory: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = CountingChecks(monkeypatch)
    verifier = factory.verifier(verified_cache_size=2)
    first, second, third = (factory.token(roles=[role]) for role in ("a", "b", "c"))
    for _ in range(3):
        assert (await verifier.verify(first)).roles == {"a"}
    assert checks.calls == 1, "the same token is checked once"
    await verifier.verify(second)
    await verifier.verify(third)
    assert checks.calls == 3
    await verifier.verify(first)
    assert checks.calls == 4, "the least recently used token was forgotten"


async def test_a_remembered_token_still_expires(factory: TokenFactory) -> None:
    verifier = factory.verifier(leeway_s=0)
    token = factory.token(exp=int(time.time()) + 1)
    await verifier.verify(token)
    await asyncio.sleep(2.1)
    with pytest.raises(ProblemError) as error:
        await verifier.verify(token)
    assert error.value.status == 401


async def test_a_key_dropped_from_the_jwks_forgets_its_tokens(
    factory: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    verifier = factory.verifier(cache_ttl_s=300, clock=lambda: now[0])
    old_kid = factory.kid
    token = factory.token()
    await verifier.verify(token)
    factory.add_key()
    del factory.keys[old_kid]
    await verifier.verify(token)  # the cached JWKS is fresh: the key still counts
    now[0] += 301
    with pytest.raises(ProblemError) as error:
        await verifier.verify(token)
    assert error.value.status == 401
    checks = CountingChecks(monkeypatch)
    await verifier.verify(factory.token())
    assert checks.calls == 1


async def test_jwks_outage_keeps_cached_keys_and_fails_closed_without_keys(
    factory: TokenFactory,
) -> None:
    now = [1000.0]
    up = [True]
    good = factory.transport()

    def handler(request: httpx.Request) -> httpx.Response:
        if not up[0]:
            return httpx.Response(503)
        return good.handle_request(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    verifier = JwksTokenVerifier(
        "http://auth/jwks",
        issuer="taskplane-auth",
        audience="taskplane",
        cache_ttl_s=10,
        http_client=client,
        clock=lambda: now[0],
    )
    await verifier.verify(factory.token())
    up[0] = False
    now[0] += 60
    await verifier.verify(factory.token())
    cold = JwksTokenVerifier(
        "http://auth/jwks",
        issuer="taskplane-auth",
        audience="taskplane",
        http_client=client,
    )
    with pytest.raises(ProblemError) as error:
        await cold.verify(factory.token())
    assert error.value.status == 503


async def _settled(verifier: JwksTokenVerifier) -> None:
    """Wait for a background refresh of the revocation list, if one runs."""
    assert verifier.revocations is not None
    background = verifier.revocations._background
    if background is not None:
        await background


async def test_a_revoked_subject_is_refused_even_when_remembered(factory: TokenFactory) -> None:
    now = [1000.0]
    verifier = factory.verifier(
        clock=lambda: now[0], revocations_poll_interval_s=15, revocations_max_age_s=60
    )
    user_id = uuid.uuid4()
    token, bystander = factory.token(user_id), factory.token()
    await verifier.verify(token)
    await verifier.verify(bystander)
    factory.revoke(str(user_id))
    await verifier.verify(token)  # the list is fresh: not polled again yet
    now[0] += 15
    await verifier.verify(bystander)  # due: refreshed in the background, nobody waits
    await _settled(verifier)
    for _ in range(2):
        with pytest.raises(ProblemError) as error:
            await verifier.verify(token)
        assert error.value.status == 401
    await verifier.verify(bystander)
    # Tokens minted after the revocation carry the subject's new epoch.
    assert (await verifier.verify(factory.token(user_id, taskplane_epoch=1))).user_id == user_id
    assert verifier.revocations is not None
    assert verifier.revocations.fetches == 2, "one full fetch, then what changed"
    await verifier.aclose()


async def test_a_stale_revocation_list_fails_closed(factory: TokenFactory) -> None:
    now = [1000.0]
    up = [True]
    good = factory.transport()

    def handler(request: httpx.Request) -> httpx.Response:
        if not up[0] and request.url.path == revocations.REVOCATIONS_PATH:
            return httpx.Response(503)
        return good.handle_request(request)

    jwks_url = "http://auth-service.test/.well-known/jwks.json"
    verifier = JwksTokenVerifier(
        jwks_url,
        issuer="taskplane-auth",
        audience="taskplane",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        clock=lambda: now[0],
        revocations_url=revocations.revocations_url_for(jwks_url),
        revocations_max_age_s=60,
    )
    token = factory.token()
    await verifier.verify(token)
    up[0] = False
    now[0] += 30
    await verifier.verify(token)  # a refresh failed, but the list is younger than 60 s
    await _settled(verifier)
    now[0] += 31
    with pytest.raises(ProblemError) as error:
        await verifier.verify(token)
    assert error.value.status == 503
    up[0] = True
    now[0] += 2
    subject = jwt.decode(token, options={"verify_signature": False})["sub"]
    assert (await verifier.verify(token)).subject == subject
    await verifier.aclose()


def _tiny_app(factory: TokenFactory) -> FastAPI:
    router = APIRouter()

    @router.put("/api/v1/queues/{queue}")
    async def configure(
        queue: str, _: Principal = Depends(require_scope("queues:admin"))
    ) -> dict[str, str]:
        return {"queue": queue}

    @router.post("/write")
    async def write(_: Principal = Depends(require_writer)) -> dict[str, str]:
        return {"ok": "yes"}

    @router.get("/admin")
    async def admin(_: Principal = Depends(require_role("admin"))) -> dict[str, str]:
        return {"ok": "yes"}

    settings = ServiceSettings(service_name="tiny", jwks_url="http://unused")
    return create_app(
        settings=settings,
        title="tiny",
        version="0",
        routers=[router],
        database=None,
        token_verifier=factory.verifier(),
    )


async def test_scope_role_and_writer_dependencies(factory: TokenFactory) -> None:
    app = _tiny_app(factory)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tiny") as client:
        worker = bearer(factory.service_token("queues:work"))
        assert_problem(await client.put("/api/v1/queues/q", headers=worker), 403)
        operator = bearer(factory.service_token("queues:admin"))
        assert (await client.put("/api/v1/queues/q", headers=operator)).status_code == 200
        admin = bearer(factory.token(roles=["admin"]))
        assert (await client.put("/api/v1/queues/q", headers=admin)).status_code == 200
        assert (await client.get("/admin", headers=admin)).status_code == 200
        member = bearer(factory.token(roles=["member"]))
        assert_problem(await client.get("/admin", headers=member), 403)
        assert (await client.post("/write", headers=member)).status_code == 200
        viewer = bearer(factory.token(roles=["viewer"]))
        assert_problem(await client.post("/write", headers=viewer), 403)
        assert_problem(await client.post("/write", headers=worker), 403)
        assert_problem(await client.post("/write"), 401)
        assert_problem(await client.post("/write", headers=bearer("nope")), 401)


def test_a_service_without_auth_configuration_refuses_to_start() -> None:
    settings = ServiceSettings(service_name="unconfigured")
    with pytest.raises(ConfigurationError, match="TASKPLANE_JWKS_URL"):
        create_app(settings=settings, title="x", version="0", routers=[], database=None)


async def test_auth_disabled_is_logged_loudly(caplog: pytest.LogCaptureFixture) -> None:
    settings = ServiceSettings(service_name="dev", auth_disabled=True)
    app = create_app(settings=settings, title="x", version="0", routers=[], database=None)
    logging.getLogger().addHandler(caplog.handler)  # create_app replaced the root handlers
    with caplog.at_level("WARNING"):
        async with app.router.lifespan_context(app):
            pass
    assert "AUTHENTICATION IS DISABLED" in caplog.text
