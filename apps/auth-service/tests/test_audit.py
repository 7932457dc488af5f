"""The auth-service's audit log: an entry for each security-relevant action, with its
actor and trace id; admins page it; nothing can change or delete an entry but the
retention job, and that only past the retention."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from fastapi import FastAPI

from taskplane_common.audit import delete_expired
from taskplane_testing.http import assert_problem
from taskplane_testing.tokens import bearer

from .conftest import PASSWORD, Login, Register


def _traced(token: str | None = None) -> tuple[str, dict[str, str]]:
    """Headers continuing a new trace (and carrying ``token``); returns its trace id."""
    trace_id = uuid.uuid4().hex
    headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    return trace_id, {**headers, **(bearer(token) if token else {})}


async def _entries(client: httpx.AsyncClient, admin: str, **filters: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/audit", params=filters, headers=bearer(admin))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _subject(access_token: str) -> str:
    claims = jwt.decode(access_token, options={"verify_signature": False})
    return str(claims["sub"])


async def test_each_action_is_audited_with_actor_and_trace_id(
    client: httpx.AsyncClient, register: Register, login: Login, admin_token: str
) -> None:
    admin_id = _subject(admin_token)
    expected: list[tuple[str, str, str, str]] = []  # (trace id, action, actor, outcome)

    trace, headers = _traced()
    user = (
        await client.post(
            "/api/v1/auth/register",
            json={"email": "ada@example.com", "password": PASSWORD},
            headers=headers,
        )
    ).json()
    expected.append((trace, "user.register", user["id"], "success"))

    trace, headers = _traced()
    pair = await client.post(
        "/api/v1/auth/token",
        data={"username": "ada@example.com", "password": PASSWORD},
        headers=headers,
    )
    expected.append((trace, "auth.login", user["id"], "success"))
    trace, headers = _traced()
    wrong = await client.post(
        "/api/v1/auth/token",
        data={"username": "ada@example.com", "password": "not the password at all"},
        headers=headers,
    )
    assert_problem(wrong, 401)
    expected.append((trace, "auth.login", "anonymous", "failure"))

    trace, headers = _traced(admin_token)
    created = await client.post(
        "/api/v1/admin/service-tokens",
        json={"name": "emails-worker", "scopes": ["queues:work"]},
        headers=headers,
    )
    token = created.json()
    expected.append((trace, "service_token.create", admin_id, "success"))
    trace, headers = _traced()
    await client.post("/api/v1/auth/service-token", json={"token": token["token"]}, headers=headers)
    expected.append((trace, "auth.token.exchange", f"service:{token['id']}", "success"))
    trace, headers = _traced(admin_token)
    await client.delete(f"/api/v1/admin/service-tokens/{token['id']}", headers=headers)
    expected.append((trace, "service_token.revoke", admin_id, "success"))

    trace, headers = _traced(admin_token)
    await client.patch(
        f"/api/v1/admin/users/{user['id']}", json={"role": "viewer"}, headers=headers
    )
    expected.append((trace, "user.update", admin_id, "success"))

    binding = "/api/v1/admin/workload-bindings/team-a/emails-worker"
    trace, headers = _traced(admin_token)
    await client.put(binding, json={"queue": "emails"}, headers=headers)
    expected.append((trace, "workload_binding.put", admin_id, "success"))
    trace, headers = _traced(admin_token)
    await client.delete(binding, headers=headers)
    expected.append((trace, "workload_binding.delete", admin_id, "success"))

    trace, headers = _traced()
    await client.post(
        "/api/v1/auth/logout", json={"refresh_token": pair.json()["refresh_token"]}, headers=headers
    )
    expected.append((trace, "auth.logout", user["id"], "success"))

    by_trace = {entry["trace_id"]: entry for entry in await _entries(client, admin_token)}
    for trace, action, actor, outcome in expected:
        entry = by_trace[trace]
        assert (entry["action"], entry["actor"], entry["outcome"]) == (action, actor, outcome)
        assert entry["client_address"], entry
        assert entry["service"] == "auth-service"

    change = by_trace[expected[6][0]]
    assert change["details"]["before"] == {"role": "member", "is_active": True}
    assert change["details"]["after"] == {"role": "viewer", "is_active": True}
    assert change["actor_name"] == "admin@example.com"
    assert token["token"] not in str(by_trace[expected[3][0]]), "no secret in the log"


async def test_admins_page_and_filter_the_log_and_nobody_else_reads_it(
    client: httpx.AsyncClient, register: Register, login: Login, admin_token: str
) -> None:
    for _ in range(5):
        bad = await client.post(
            "/api/v1/auth/token", data={"username": "admin@example.com", "password": "wrong-one!"}
        )
        assert_problem(bad, 401)
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"action": "auth.login", "outcome": "failure", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (
            await client.get("/api/v1/audit", params=params, headers=bearer(admin_token))
        ).json()
        seen.extend(entry["id"] for entry in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5
    assert seen == sorted(seen, reverse=True)
    prefixed = await _entries(client, admin_token, action="auth.")
    assert {e["action"] for e in prefixed} == {"auth.login"}

    await register("member@example.com")
    member = (await login("member@example.com"))["access_token"]
    assert_problem(await client.get("/api/v1/audit", headers=bearer(member)), 403)
    assert_problem(await client.get("/api/v1/audit"), 401)
    assert_problem(
        await client.get("/api/v1/audit", params={"cursor": "x1"}, headers=bearer(admin_token)),
        422,
    )
    # Any cursor the document allows is a position: past the largest id, from the newest.
    newest = await _entries(client, admin_token, action="auth.")
    beyond = await _entries(client, admin_token, cursor="9" * 20, action="auth.")
    assert [e["id"] for e in beyond] == [e["id"] for e in newest]
    # A time filter is RFC 3339 text, not a number read as a Unix time.
    for bad_time in ("0.5", "1700000000"):
        assert_problem(
            await client.get(
                "/api/v1/audit", params={"until": bad_time}, headers=bearer(admin_token)
            ),
            422,
        )
    now = await _entries(client, admin_token, since="2000-01-01T00:00:00Z", action="auth.")
    assert {e["action"] for e in now} == {"auth.login"}


async def test_entries_cannot_be_changed_or_deleted(
    app: FastAPI, client: httpx.AsyncClient, db: psycopg.Connection[Any], admin_token: str
) -> None:
    entry = (await _entries(client, admin_token))[0]
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        response = await client.request(method, "/api/v1/audit", headers=bearer(admin_token))
        assert response.status_code == 405, method
        response = await client.request(
            method, f"/api/v1/audit/{entry['id']}", headers=bearer(admin_token)
        )
        assert response.status_code in (404, 405), method

    for statement in (
        "UPDATE auth.audit_log SET outcome = 'failure'",
        "DELETE FROM auth.audit_log",
        "TRUNCATE auth.audit_log",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute(statement)
    db.execute(
        "INSERT INTO auth.audit_log (occurred_at, actor, action, target, outcome) "
        "VALUES (now() - interval '2 hours', 'someone', 'auth.login', 'user:x', 'success')"
    )

    def delete_with_a_short_retention() -> None:
        """A retention below the floor (1 day) does not unlock DELETE either."""
        with db.transaction():
            db.execute("SET LOCAL taskplane.audit_retention_s = '60'")
            db.execute("DELETE FROM auth.audit_log WHERE occurred_at < now() - interval '1 hour'")

    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        delete_with_a_short_retention()
    assert (await _entries(client, admin_token))[1] == entry


async def test_retention_deletes_exactly_the_entries_past_it(
    app: FastAPI, client: httpx.AsyncClient, db: psycopg.Connection[Any], admin_token: str
) -> None:
    db.execute(
        "INSERT INTO auth.audit_log (occurred_at, actor, action, target, outcome) "
        "SELECT now() - make_interval(days => d) + interval '1 hour', "
        "'someone', 'auth.login', 'user:x', 'success' "
        "FROM generate_series(1, 1500) AS d"
    )
    total = db.execute("SELECT count(*) FROM auth.audit_log").fetchone()
    assert total is not None
    deleted = await delete_expired(app.state.database, "auth", 400)
    assert deleted == 1500 - 400  # 401 to 1500 days old, in two batches
    left = db.execute("SELECT count(*), max(now() - occurred_at) FROM auth.audit_log").fetchone()
    assert left is not None
    assert left[0] == total[0] - deleted
    assert left[1].days < 400
