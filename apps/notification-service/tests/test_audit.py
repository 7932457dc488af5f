"""The notification-service's audit log: webhook subscriptions and secret changes, with
the actor and the trace id, never the secret; admins read it, owners do not."""

from __future__ import annotations

import uuid

import httpx

from taskplane_testing.http import assert_problem
from taskplane_testing.tokens import TokenFactory, bearer

PUBLIC_URL = "http://93.184.215.14/hooks"  # a public address literal: no DNS needed


def _traced(headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    trace_id = uuid.uuid4().hex
    return trace_id, {**headers, "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}


async def test_webhook_changes_are_audited_without_their_secrets(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    owner = uuid.uuid4()
    headers = bearer(tokens.token(owner))
    expected: dict[str, str] = {}
    trace, traced = _traced(headers)
    created = await client.post(
        "/api/v1/webhooks", json={"url": PUBLIC_URL, "events": ["task.failed"]}, headers=traced
    )
    hook = created.json()
    expected[trace] = "webhook.create"
    secrets = {hook["secret"]}
    base = f"/api/v1/webhooks/{hook['id']}"
    trace, traced = _traced(headers)
    patched = await client.patch(base, json={"events": ["task.completed"]}, headers=traced)
    assert patched.status_code == 200, patched.text
    expected[trace] = "webhook.update"
    trace, traced = _traced(headers)
    rotated = await client.post(f"{base}/rotate-secret", json={"grace_s": 60}, headers=traced)
    secrets.add(rotated.json()["secret"])
    expected[trace] = "webhook.rotate_secret"
    trace, traced = _traced(headers)
    assert (await client.delete(base, headers=traced)).status_code == 204
    expected[trace] = "webhook.delete"

    assert_problem(await client.get("/api/v1/audit", headers=headers), 403)  # owners: no
    admin = bearer(tokens.token(roles=("admin",)))
    page = await client.get(
        "/api/v1/audit", params={"target": f"webhook:{hook['id']}"}, headers=admin
    )
    entries = page.json()["items"]
    assert {e["trace_id"]: e["action"] for e in entries} == expected
    assert {e["actor"] for e in entries} == {str(owner)}
    assert {e["service"] for e in entries} == {"notification-service"}
    assert not any(secret in page.text for secret in secrets)
    assert next(e for e in entries if e["action"] == "webhook.update")["details"] == {
        "changes": {"events": ["task.completed"]}
    }
