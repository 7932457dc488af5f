"""Kubernetes ServiceAccount tokens exchanged for access tokens, against a real issuer.

An in-test cluster issuer serves, over real HTTP, what kube-apiserver serves: the OpenID
discovery document, the JWKS (an RSA key, as Kubernetes uses by default, and a P-256
key), and the TokenReview endpoint. Tokens are shaped like projected ServiceAccount
tokens, so the exchange runs its real verification code path.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from pydantic import ValidationError

from auth_service.config import Settings
from auth_service.main import build_app
from taskplane_testing.http import asgi_client, assert_problem
from taskplane_testing.kubernetes_issuer import (
    NOTIFIER,
    OPERATOR,
    OWN_TOKEN,
    TOKENREVIEW_PATH,
    WORKER,
    ClusterIssuer,
    running_issuer,
)
from taskplane_testing.tokens import bearer


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterIssuer]:
    with running_issuer() as issuer:
        yield issuer


def _closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def _started(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), asgi_client(app, "http://auth-service") as c:
        await app.state.startup.wait()
        yield c


def _kubernetes_app(
    settings_for: Callable[..., Settings], issuer: str, **overrides: Any
) -> FastAPI:
    operators = f"{OPERATOR[0]}:{OPERATOR[1]},other-ns:other-operator"
    return build_app(
        settings_for(
            auth_kubernetes_issuer=issuer,
            auth_kubernetes_operators=operators,
            auth_kubernetes_notifiers=f"{NOTIFIER[0]}:{NOTIFIER[1]}",
            auth_kubernetes_timeout_s=10,
            **overrides,
        )
    )


@pytest.fixture
async def k8s(
    settings_for: Callable[..., Settings], cluster: ClusterIssuer
) -> AsyncIterator[httpx.AsyncClient]:
    """The auth-service verifying ServiceAccount tokens by OIDC discovery + JWKS."""
    async for c in _started(_kubernetes_app(settings_for, cluster.url)):
        yield c


@pytest.fixture
async def reviewing(
    settings_for: Callable[..., Settings], cluster: ClusterIssuer, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The auth-service asking the (in-test) API server with TokenReviews."""
    own_token = tmp_path / "token"
    own_token.write_text(OWN_TOKEN + "\n")
    app = _kubernetes_app(
        settings_for,
        cluster.url,
        auth_kubernetes_mode="tokenreview",
        auth_kubernetes_api_url=cluster.url,
        auth_kubernetes_api_token_file=own_token,
        auth_kubernetes_api_ca_file=tmp_path / "absent-ca.crt",
    )
    async for c in _started(app):
        yield c


async def _exchange(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/kubernetes-token", json={"token": token})


def _claims(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    claims: dict[str, Any] = jwt.decode(body["access_token"], options={"verify_signature": False})
    return claims


async def _bind(client: httpx.AsyncClient, token: str, queue: str) -> httpx.Response:
    return await client.put(
        f"/api/v1/admin/workload-bindings/{WORKER[0]}/{WORKER[1]}",
        json={"queue": queue},
        headers=bearer(token),
    )


async def _operator_access(client: httpx.AsyncClient, cluster: ClusterIssuer) -> str:
    access: str = (await _exchange(client, cluster.token(*OPERATOR))).json()["access_token"]
    return access


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
async def test_the_operator_exchanges_its_token_for_the_operator_scopes(
    k8s: httpx.AsyncClient, cluster: ClusterIssuer, kid: str
) -> None:
    claims = _claims(await _exchange(k8s, cluster.token(*OPERATOR, kid=kid)))
    assert claims["sub"] == "system:serviceaccount:taskplane-system:taskplane-operator"
    assert claims["scope"] == "events:read queues:admin workload-bindings:write"
    assert claims["roles"] == []
    assert claims["token_use"] == "kubernetes"
    assert "taskplane_queue" not in claims
    assert claims["aud"] == "taskplane"
    assert claims["iss"] == "taskplane-auth"
    assert "/.well-known/openid-configuration" in cluster.requests


async def test_the_notification_service_gets_the_feed_and_preference_scopes(
    k8s: httpx.AsyncClient, cluster: ClusterIssuer
) -> None:
    claims = _claims(await _exchange(k8s, cluster.token(*NOTIFIER)))
    assert claims["sub"] == "system:serviceaccount:taskplane-system:taskplane-notification-service"
    assert claims["scope"] == "events:read users:read"
    assert "taskplane_queue" not in claims


def test_platform_identities_must_be_namespace_colon_name(
    settings_for: Callable[..., Settings],
) -> None:
    with pytest.raises(ValidationError, match="TASKPLANE_AUTH_KUBERNETES_NOTIFIERS"):
        settings_for(auth_kubernetes_notifiers="just-a-name")


async def test_a_bound_worker_gets_queue_work_for_its_queue_only_until_unbound(
    k8s: httpx.AsyncClient, cluster: ClusterIssuer
) -> None:
    worker_token = cluster.token(*WORKER, kid="ec-1")
    refused = assert_problem(await _exchange(k8s, worker_token), 401)
    assert "not bound" in refused["detail"]

    operator = await _operator_access(k8s, cluster)
    bound = await _bind(k8s, operator, "emails")
    assert bound.status_code == 200, bound.text
    assert bound.json()["queue"] == "emails"

    claims = _claims(await _exchange(k8s, worker_token))
    assert claims["scope"] == "queues:work"
    assert claims["taskplane_queue"] == "emails"
    assert claims["sub"] == "system:serviceaccount:team-a:emails-worker"

    # The TaskQueue is deleted: the very same (still unexpired) token is refused.
    deleted = await k8s.delete(
        f"/api/v1/admin/workload-bindings/{WORKER[0]}/{WORKER[1]}", headers=bearer(operator)
    )
    assert deleted.status_code == 204
    assert_problem(await _exchange(k8s, worker_token), 401)


async def test_bindings_are_idempotent_and_only_for_admins_and_the_operator(
    k8s: httpx.AsyncClient, cluster: ClusterIssuer, admin_token: str, register: Any, login: Any
) -> None:
    first = await _bind(k8s, admin_token, "emails")
    again = await _bind(k8s, admin_token, "emails")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    moved = (await _bind(k8s, admin_token, "reports")).json()
    assert moved["queue"] == "reports"
    assert moved["created_at"] == first.json()["created_at"]
    assert moved["updated_at"] >= first.json()["updated_at"]

    listing = await k8s.get("/api/v1/admin/workload-bindings", headers=bearer(admin_token))
    assert listing.json() == [moved]

    await register("member@example.com")
    member = (await login("member@example.com"))["access_token"]
    worker = (await _exchange(k8s, cluster.token(*WORKER))).json()["access_token"]
    for outsider in (member, worker):
        assert_problem(await _bind(k8s, outsider, "stolen"), 403)
        assert_problem(
            await k8s.get("/api/v1/admin/workload-bindings", headers=bearer(outsider)), 403
        )
    assert_problem(await _bind(k8s, admin_token, "bad queue name"), 422)
    assert_problem(
        await k8s.put(
            "/api/v1/admin/workload-bindings/Not_A_Namespace/x",
            json={"queue": "emails"},
            headers=bearer(admin_token),
        ),
        422,
    )
    listing = await k8s.get("/api/v1/admin/workload-bindings", headers=bearer(admin_token))
    # The worker's exchange recorded its ServiceAccount's uid; the refused calls nothing.
    assert listing.json() == [{**moved, "service_account_uid": cluster.uid(*WORKER)}]

    path = f"/api/v1/admin/workload-bindings/{WORKER[0]}/{WORKER[1]}"
    for _ in range(2):
        assert (await k8s.delete(path, headers=bearer(admin_token))).status_code == 204
    assert (
        await k8s.get("/api/v1/admin/workload-bindings", headers=bearer(admin_token))
    ).json() == []


async def test_tokens_that_are_not_for_us_are_refused(
    k8s: httpx.AsyncClient, cluster: ClusterIssuer, admin_token: str
) -> None:
    await _bind(k8s, admin_token, "emails")
    impostor_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {
        "expired": cluster.token(*WORKER, expires_in=-120),
        "API-server audience": cluster.token(
            *WORKER, audience="https://kubernetes.default.svc.cluster.local"
        ),
        "other issuer": cluster.token(*WORKER, issuer="https://oidc.eks.example.com/id/OTHER"),
        "bad signature": cluster.token(*WORKER, signing_key=impostor_key),
        "unbound ServiceAccount": cluster.token("team-a", "some-other-app"),
        "not a JWT": "not-a-jwt",
    }
    for case, token in refused.items():
        problem = assert_problem(await _exchange(k8s, token), 401)
        assert "access_token" not in problem, case
    header, payload, _ = cluster.token(*OPERATOR).split(".")
    unsigned_header = jwt.utils.base64url_encode(b'{"alg":"none","kid":"rsa-1"}').decode()
    unsigned = f"{unsigned_header}.{payload}."
    assert header != unsigned_header
    assert_problem(await _exchange(k8s, unsigned), 401)


async def test_an_unreachable_issuer_is_a_503_with_retry_after(
    settings_for: Callable[..., Settings], cluster: ClusterIssuer
) -> None:
    down = f"http://127.0.0.1:{_closed_port()}"
    async for client in _started(_kubernetes_app(settings_for, down)):
        token = cluster.token(*OPERATOR, issuer=down)
        problem = assert_problem(await _exchange(client, token), 503)
        assert "access_token" not in problem
    async for client in _started(
        _kubernetes_app(settings_for, cluster.url, auth_kubernetes_jwks_url=f"{down}/jwks")
    ):
        response = await _exchange(client, cluster.token(*OPERATOR))
        assert_problem(response, 503)
        assert int(response.headers["retry-after"]) > 0


async def test_the_exchange_is_a_404_problem_when_not_enabled(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await _exchange(client, "eyJhbGciOi.x.y"), 404)
    assert "TASKPLANE_AUTH_KUBERNETES_ISSUER" in problem["detail"]


async def test_tokenreview_mode_asks_the_api_server(
    reviewing: httpx.AsyncClient, cluster: ClusterIssuer, admin_token: str
) -> None:
    claims = _claims(await _exchange(reviewing, cluster.token(*OPERATOR)))
    assert "queues:admin" in claims["scope"].split()
    assert TOKENREVIEW_PATH in cluster.requests

    await _bind(reviewing, admin_token, "emails")
    assert (
        _claims(await _exchange(reviewing, cluster.token(*WORKER)))["taskplane_queue"] == "emails"
    )
    for token in (
        cluster.token(*WORKER, audience="https://kubernetes.default.svc.cluster.local"),
        cluster.token(*WORKER, expires_in=-120),
        cluster.token(*WORKER, issuer="https://elsewhere.example.com"),
    ):
        assert_problem(await _exchange(reviewing, token), 401)
    # The ServiceAccount was deleted: the API server no longer authenticates its token.
    cluster.accounts.discard("system:serviceaccount:team-a:emails-worker")
    try:
        assert_problem(await _exchange(reviewing, cluster.token(*WORKER)), 401)
    finally:
        cluster.accounts.add("system:serviceaccount:team-a:emails-worker")


async def test_tokenreview_mode_is_a_503_when_the_api_server_is_down(
    settings_for: Callable[..., Settings], cluster: ClusterIssuer, tmp_path: Path
) -> None:
    own_token = tmp_path / "token"
    own_token.write_text(OWN_TOKEN)
    app = _kubernetes_app(
        settings_for,
        cluster.url,
        auth_kubernetes_mode="tokenreview",
        auth_kubernetes_api_url=f"http://127.0.0.1:{_closed_port()}",
        auth_kubernetes_api_token_file=own_token,
    )
    async for client in _started(app):
        response = await _exchange(client, cluster.token(*OPERATOR))
        assert_problem(response, 503)
        assert "retry-after" in response.headers


async def test_the_exchange_shares_the_address_rate_limit(
    settings_for: Callable[..., Settings], cluster: ClusterIssuer
) -> None:
    app = _kubernetes_app(settings_for, cluster.url, login_max_attempts_per_address=2)
    async for client in _started(app):
        token = cluster.token(*OPERATOR)
        for _ in range(2):
            assert (await _exchange(client, token)).status_code == 200
        limited = await _exchange(client, token)
        assert_problem(limited, 429)
        assert int(limited.headers["retry-after"]) > 0


async def test_a_recreated_service_account_is_refused_until_bound_again(
    k8s: httpx.AsyncClient, cluster: ClusterIssuer, admin_token: str
) -> None:
    path = f"/api/v1/admin/workload-bindings/{WORKER[0]}/{WORKER[1]}"
    await _bind(k8s, admin_token, "emails")
    first_uid = cluster.uid(*WORKER)
    _claims(await _exchange(k8s, cluster.token(*WORKER)))
    listing = (await k8s.get("/api/v1/admin/workload-bindings", headers=bearer(admin_token))).json()
    assert listing[0]["service_account_uid"] == first_uid, "the first exchange records the uid"

    cluster.recreate(*WORKER)  # deleted and created again: same name, another uid
    try:
        refused = assert_problem(await _exchange(k8s, cluster.token(*WORKER)), 401)
        assert "bind it again" in refused["detail"]
        # The operator's idempotent re-bind (no uid) does not loosen the recorded uid...
        assert (await _bind(k8s, admin_token, "emails")).status_code == 200
        assert_problem(await _exchange(k8s, cluster.token(*WORKER)), 401)
        # ...binding again with the new uid does, and no other uid passes then.
        rebound = await k8s.put(
            path,
            json={"queue": "emails", "service_account_uid": cluster.uid(*WORKER)},
            headers=bearer(admin_token),
        )
        assert rebound.json()["service_account_uid"] == cluster.uid(*WORKER)
        assert _claims(await _exchange(k8s, cluster.token(*WORKER)))["taskplane_queue"] == "emails"
    finally:
        cluster.recreate(*WORKER)
    assert_problem(await _exchange(k8s, cluster.token(*WORKER)), 401)

    # Unbinding and binding again without a uid records the next exchange's uid afresh.
    assert (await k8s.delete(path, headers=bearer(admin_token))).status_code == 204
    await _bind(k8s, admin_token, "emails")
    _claims(await _exchange(k8s, cluster.token(*WORKER)))
