"""Revocation bites within a minute in every service, with real processes.

The auth-service and a task-service run as processes on one PostgreSQL database; an
in-test Kubernetes issuer lets a worker ServiceAccount exchange its token. Four access
tokens work at the task-service, then their origins are revoked: a service token, a
workload binding, a disabled user and an admin lowered to member. Each token must be
refused within the promised 60 s, although the task-service had verified (and
remembered) every one of them, and new tokens minted afterwards work at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from opentelemetry.instrumentation.utils import suppress_http_instrumentation

from taskplane_testing.kubernetes_issuer import WORKER, ClusterIssuer, running_issuer
from taskplane_testing.platform import Platform, running_platform
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import wait_until
from taskplane_testing.tokens import bearer

#: What the services promise: a revocation is seen everywhere within this bound.
PROMISE_S = 60.0
PASSWORD = "correct horse battery staple"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterIssuer]:
    with running_issuer() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def platform(postgres_server: PostgresServer, cluster: ClusterIssuer) -> Iterator[Platform]:
    env = {"TASKPLANE_AUTH_KUBERNETES_ISSUER": cluster.url}
    with running_platform(postgres_server, "platform_revocation", auth_env=env) as running:
        yield running


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _user(platform: Platform, email: str, admin: str, role: str) -> tuple[str, str]:
    """A new account with ``role``; returns its id and a fresh access token."""
    auth = platform.auth.url
    user = _ok(
        httpx.post(f"{auth}/api/v1/auth/register", json={"email": email, "password": PASSWORD}),
        201,
    )
    _ok(
        httpx.patch(
            f"{auth}/api/v1/admin/users/{user['id']}", json={"role": role}, headers=bearer(admin)
        )
    )
    return user["id"], _login(platform, email)


def _login(platform: Platform, email: str) -> str:
    response = httpx.post(
        f"{platform.auth.url}/api/v1/auth/token", data={"username": email, "password": PASSWORD}
    )
    token: str = _ok(response)["access_token"]
    return token


def _worker_token(platform: Platform, cluster: ClusterIssuer) -> str:
    response = httpx.post(
        f"{platform.auth.url}/api/v1/auth/kubernetes-token", json={"token": cluster.token(*WORKER)}
    )
    token: str = _ok(response)["access_token"]
    return token


def _status(url: str, token: str) -> int:
    return httpx.get(url, headers=bearer(token), timeout=30).status_code


def test_revoked_tokens_are_refused_everywhere_within_a_minute(
    platform: Platform, cluster: ClusterIssuer
) -> None:
    auth, tasks = platform.auth.url, platform.tasks.url
    admin = platform.admin_token()
    _ok(httpx.put(f"{tasks}/api/v1/queues/emails", json={}, headers=bearer(admin)), 201)
    binding = f"{auth}/api/v1/admin/workload-bindings/{WORKER[0]}/{WORKER[1]}"
    _ok(httpx.put(binding, json={"queue": "emails"}, headers=bearer(admin)))

    secret = platform.service_token("doomed-worker", "queues:work")
    service_access = _ok(httpx.post(f"{auth}/api/v1/auth/service-token", json={"token": secret}))
    worker = _worker_token(platform, cluster)
    disabled_id, disabled = _user(platform, "leaver@example.org", admin, "member")
    demoted_id, demoted = _user(platform, "second-admin@example.org", admin, "admin")

    queue_url = f"{tasks}/api/v1/queues/emails"
    tasks_url = f"{tasks}/api/v1/tasks"
    audit_url = f"{auth}/api/v1/audit"
    checks = {
        "service token": (queue_url, service_access["access_token"]),
        "workload binding": (queue_url, worker),
        "disabled user": (tasks_url, disabled),
        "lowered role": (tasks_url, demoted),
        "lowered role at the auth-service": (audit_url, demoted),
    }
    for what, (url, token) in checks.items():
        assert _status(url, token) == 200, what  # verified and remembered by now

    traced = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01", **bearer(admin)}
    token_id = next(
        t["id"]
        for t in _ok(httpx.get(f"{auth}/api/v1/admin/service-tokens", headers=bearer(admin)))
        if t["name"] == "doomed-worker"
    )
    users = f"{auth}/api/v1/admin/users"
    # Our traceparent as sent: an in-process app of an earlier test may have instrumented
    # httpx in this process, which would replace it with a trace of its own.
    with suppress_http_instrumentation():
        _ok(httpx.delete(f"{auth}/api/v1/admin/service-tokens/{token_id}", headers=traced), 204)
        _ok(httpx.delete(binding, headers=traced), 204)
        _ok(httpx.patch(f"{users}/{disabled_id}", json={"is_active": False}, headers=traced))
        _ok(httpx.patch(f"{users}/{demoted_id}", json={"role": "member"}, headers=traced))

    def all_refused() -> bool:
        return all(_status(url, token) == 401 for url, token in checks.values())

    wait_until(all_refused, "every revoked token refused", timeout_s=PROMISE_S)

    # Tokens minted after the revocations carry the new epoch and work at once.
    _ok(httpx.put(binding, json={"queue": "emails"}, headers=bearer(admin)))
    assert _status(queue_url, _worker_token(platform, cluster)) == 200
    member = _login(platform, "second-admin@example.org")
    assert _status(tasks_url, member) == 200
    assert _status(audit_url, member) == 403  # a member now, not an admin
    assert _status(tasks_url, admin) == 200  # the others' revocations left admin alone

    entries = _ok(httpx.get(audit_url, params={"limit": 200}, headers=bearer(admin)))["items"]
    revocations = {
        (e["action"], e["target"])
        for e in entries
        if e["trace_id"] == TRACE_ID and e["actor"] == _subject(admin)
    }
    assert revocations == {
        ("service_token.revoke", f"service-token:{token_id}"),
        ("workload_binding.delete", f"serviceaccount:{WORKER[0]}/{WORKER[1]}"),
        ("user.update", f"user:{disabled_id}"),
        ("user.update", f"user:{demoted_id}"),
    }


def _subject(token: str) -> str:
    subject: str = jwt.decode(token, options={"verify_signature": False})["sub"]
    return subject
