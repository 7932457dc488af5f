"""Authorization in the task-service with real ES256 tokens (attack suite).

Members see and change only tasks they own or are assigned (anything else is a 404,
never a 403 that would confirm the task exists); viewers only read; admins do
everything; queue configuration needs the ``queues:admin`` scope.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from task_service.config import Settings
from task_service.main import build_app
from taskplane_testing.http import asgi_client, assert_problem
from taskplane_testing.tokens import JWKS_URL, TokenFactory, bearer


@pytest.fixture(scope="module")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="module")
async def secured_app(task_db_url: str, tokens: TokenFactory) -> AsyncIterator[FastAPI]:
    app = build_app(Settings(DATABASE_URL=task_db_url, jwks_url=JWKS_URL))
    app.state.token_verifier = tokens.verifier()
    yield app
    await app.state.database.dispose()


@pytest.fixture
async def api(secured_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(secured_app, "http://task-service") as c:
        yield c


class Person:
    def __init__(self, tokens: TokenFactory, role: str) -> None:
        self.id = uuid.uuid4()
        self.headers = bearer(tokens.token(self.id, roles=[role]))


@pytest.fixture
def people(tokens: TokenFactory) -> dict[str, Person]:
    return {
        name: Person(tokens, role)
        for name, role in [
            ("alice", "member"),
            ("bob", "member"),
            ("carol", "member"),
            ("victor", "viewer"),
            ("ada", "admin"),
        ]
    }


async def _create(api: httpx.AsyncClient, who: Person, **body: Any) -> dict[str, Any]:
    response = await api.post("/api/v1/tasks", json={"title": "t", **body}, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_members_cannot_see_or_touch_other_members_tasks(
    api: httpx.AsyncClient, people: dict[str, Person]
) -> None:
    alice, bob = people["alice"], people["bob"]
    task = await _create(api, alice, title="alice's secret")
    path = f"/api/v1/tasks/{task['id']}"
    assert_problem(await api.get(path, headers=bob.headers), 404)
    assert_problem(await api.patch(path, json={"title": "pwned"}, headers=bob.headers), 404)
    assert_problem(await api.delete(path, headers=bob.headers), 404)
    listing = await api.get("/api/v1/tasks", headers=bob.headers)
    assert listing.json()["items"] == []
    stats = await api.get("/api/v1/tasks/stats", headers=bob.headers)
    assert stats.json()["total"] == 0
    unchanged = await api.get(path, headers=alice.headers)
    assert unchanged.json()["title"] == "alice's secret"


async def test_assignees_see_and_change_the_task(
    api: httpx.AsyncClient, people: dict[str, Person]
) -> None:
    alice, carol = people["alice"], people["carol"]
    task = await _create(api, alice, assignee_id=str(carol.id))
    path = f"/api/v1/tasks/{task['id']}"
    assert (await api.get(path, headers=carol.headers)).status_code == 200
    changed = await api.patch(path, json={"status": "in_progress"}, headers=carol.headers)
    assert changed.status_code == 200, changed.text
    assert [
        t["id"] for t in (await api.get("/api/v1/tasks", headers=carol.headers)).json()["items"]
    ] == [task["id"]]


async def test_viewers_only_read(api: httpx.AsyncClient, people: dict[str, Person]) -> None:
    alice, victor = people["alice"], people["victor"]
    task = await _create(api, alice, assignee_id=str(victor.id))
    path = f"/api/v1/tasks/{task['id']}"
    assert (await api.get(path, headers=victor.headers)).status_code == 200
    assert_problem(
        await api.post("/api/v1/tasks", json={"title": "x"}, headers=victor.headers), 403
    )
    assert_problem(await api.patch(path, json={"title": "x"}, headers=victor.headers), 403)
    assert_problem(await api.delete(path, headers=victor.headers), 403)
    assert (await api.get(path, headers=alice.headers)).json()["title"] == "t"


async def test_admins_see_and_change_everything(
    api: httpx.AsyncClient, people: dict[str, Person]
) -> None:
    alice, ada = people["alice"], people["ada"]
    task = await _create(api, alice)
    path = f"/api/v1/tasks/{task['id']}"
    assert (await api.get(path, headers=ada.headers)).status_code == 200
    assert (
        await api.patch(path, json={"priority": "high"}, headers=ada.headers)
    ).status_code == 200
    assert (await api.delete(path, headers=ada.headers)).status_code == 204


async def test_service_tokens_cannot_write_tasks(
    api: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    worker = bearer(tokens.service_token("queues:work"))
    assert_problem(await api.post("/api/v1/tasks", json={"title": "x"}, headers=worker), 403)


async def test_a_worker_token_cannot_configure_a_queue(
    api: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    worker = bearer(tokens.service_token("queues:work", "events:read"))
    response = await api.put("/api/v1/queues/emails", json={"max_attempts": 3}, headers=worker)
    assert_problem(response, 403)
    member = bearer(tokens.token(roles=["member"]))
    assert_problem(
        await api.put("/api/v1/queues/emails", json={"max_attempts": 3}, headers=member), 403
    )
    operator = bearer(tokens.service_token("queues:admin"))
    configured = await api.put("/api/v1/queues/emails", json={"max_attempts": 3}, headers=operator)
    assert configured.status_code in {200, 201}, configured.text


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-audience"},
        {"iss": "https://evil.example"},
        {"exp": 1},
        {"nbf": 4_000_000_000},
    ],
)
async def test_bad_tokens_are_401(
    api: httpx.AsyncClient, tokens: TokenFactory, claims: dict[str, Any]
) -> None:
    token = tokens.token(roles=["admin"], **claims)
    assert_problem(await api.get("/api/v1/tasks", headers=bearer(token)), 401)


async def test_no_token_is_401(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/tasks")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_queue_writes_follow_roles_and_scopes(
    api: httpx.AsyncClient, people: dict[str, Person], tokens: TokenFactory
) -> None:
    task = {"payload": {"n": 1}}
    viewer = people["victor"].headers
    assert_problem(await api.post("/api/v1/queues/jobs/tasks", json=task, headers=viewer), 403)
    reader = bearer(tokens.service_token("events:read"))
    assert_problem(await api.post("/api/v1/queues/jobs/tasks", json=task, headers=reader), 403)

    member = await api.post("/api/v1/queues/jobs/tasks", json=task, headers=people["alice"].headers)
    assert member.status_code == 201, member.text
    worker = bearer(tokens.service_token("queues:work"))
    follow_up = await api.post("/api/v1/queues/jobs/tasks", json=task, headers=worker)
    assert follow_up.status_code == 201, "workers may enqueue follow-up tasks"

    cancel = f"/api/v1/tasks/{member.json()['id']}/cancel"
    assert_problem(await api.post(cancel, headers=viewer), 403)
    assert_problem(await api.post(cancel, headers=worker), 403)
    assert_problem(await api.get("/api/v1/queues/jobs/dead", headers=people["bob"].headers), 403)
    assert (await api.post(cancel, headers=people["alice"].headers)).status_code == 200
    other = await api.post("/api/v1/queues/jobs/tasks", json=task, headers=people["bob"].headers)
    operator = bearer(tokens.service_token("queues:admin"))
    cancelled = await api.post(f"/api/v1/tasks/{other.json()['id']}/cancel", headers=operator)
    assert cancelled.status_code == 200, "a queues:admin token cancels any queued task"


async def test_queue_jobs_are_seen_by_their_owner_and_admins_only(
    api: httpx.AsyncClient, people: dict[str, Person], tokens: TokenFactory
) -> None:
    """A queue job has no assignee: the one who enqueued it and admins read it, by id
    and in its queue's list; anyone else gets the 404 a missing task gets."""
    alice, bob, ada = people["alice"], people["bob"], people["ada"]
    enqueued = await api.post("/api/v1/queues/seen/tasks", json={}, headers=alice.headers)
    assert enqueued.status_code == 201, enqueued.text
    job = enqueued.json()["id"]
    path = f"/api/v1/tasks/{job}"

    async def listed(headers: dict[str, str]) -> list[str]:
        page = await api.get("/api/v1/queues/seen/tasks", headers=headers)
        assert page.status_code == 200, page.text
        return [task["id"] for task in page.json()["items"]]

    for who in (alice, ada):
        assert (await api.get(path, headers=who.headers)).json()["queue"]["name"] == "seen"
        assert await listed(who.headers) == [job]
    assert_problem(await api.get(path, headers=bob.headers), 404)
    assert_problem(await api.delete(path, headers=bob.headers), 404)
    assert_problem(await api.patch(path, json={"title": "x"}, headers=bob.headers), 404)
    assert await listed(bob.headers) == []
    assert await listed(bearer(tokens.service_token("queues:work"))) == []
    assert (await api.get(path, headers=alice.headers)).status_code == 200


def _workload_token(tokens: TokenFactory, queue: str) -> dict[str, str]:
    """What the auth-service issues to a Kubernetes worker bound to ``queue``."""
    subject = f"system:serviceaccount:team-a:{queue}-worker"
    return bearer(
        tokens.token(
            subject,
            roles=(),
            scopes=("queues:work",),
            token_use="kubernetes",
            taskplane_queue=queue,
        )
    )


async def test_a_queue_bound_token_works_its_queue_and_nothing_else(
    api: httpx.AsyncClient, tokens: TokenFactory, db: Any
) -> None:
    admin = bearer(tokens.token(roles=["admin"]))
    for queue in ("emails", "reports"):
        enqueued = await api.post(f"/api/v1/queues/{queue}/tasks", json={}, headers=admin)
        assert enqueued.status_code == 201, enqueued.text

    async def lease(queue: str, headers: dict[str, str]) -> str:
        leased = await api.post(
            f"/api/v1/queues/{queue}/leases", json={"worker_id": "w"}, headers=headers
        )
        assert leased.status_code == 200, leased.text
        lease_id: str = leased.json()["tasks"][0]["lease_id"]
        return lease_id

    emails_worker = _workload_token(tokens, "emails")
    own_lease = await lease("emails", emails_worker)
    other_lease = await lease("reports", bearer(tokens.service_token("queues:work")))

    def snapshot() -> list[Any]:
        tasks = db.execute(
            "SELECT id, queue, status, attempts, lease_id, lease_expires_at, version"
            " FROM tasks.queue_tasks ORDER BY id"
        ).fetchall()
        events = db.execute("SELECT count(*) FROM tasks.events").fetchone()
        return [tasks, events]

    before = snapshot()
    refused = {
        "enqueue": api.post("/api/v1/queues/reports/tasks", json={}, headers=emails_worker),
        "lease": api.post(
            "/api/v1/queues/reports/leases", json={"worker_id": "w"}, headers=emails_worker
        ),
        "stats": api.get("/api/v1/queues/reports", headers=emails_worker),
        "jobs": api.get("/api/v1/queues/reports/tasks", headers=emails_worker),
        **{
            action: api.post(
                f"/api/v1/leases/{other_lease}/{action}",
                json={"error": "boom"} if action == "fail" else {},
                headers=emails_worker,
            )
            for action in ("heartbeat", "complete", "fail", "release")
        },
    }
    for route, call in refused.items():
        problem = assert_problem(await call, 403)
        assert "'emails'" in problem["detail"], (route, problem)
    for admin_only in (
        api.put("/api/v1/queues/emails", json={}, headers=emails_worker),
        api.get("/api/v1/queues/emails/dead", headers=emails_worker),
        api.get("/api/v1/events", headers=emails_worker),
    ):
        assert_problem(await admin_only, 403)
    batch = await api.post(
        "/api/v1/leases/complete",
        json={"items": [{"lease_id": other_lease}]},
        headers=emails_worker,
    )
    assert batch.json()["items"][0]["completed"] is False
    assert_problem(
        await api.post(f"/api/v1/leases/{uuid.uuid4()}/heartbeat", headers=emails_worker), 409
    )
    assert snapshot() == before, "refused calls changed nothing"

    listed = await api.get("/api/v1/queues", headers=emails_worker)
    assert [queue["name"] for queue in listed.json()["items"]] == ["emails"]
    own = f"/api/v1/leases/{own_lease}"
    assert (await api.post(f"{own}/heartbeat", headers=emails_worker)).status_code == 200
    follow_up = await api.post("/api/v1/queues/emails/tasks", json={}, headers=emails_worker)
    assert follow_up.status_code == 201, follow_up.text
    completed = await api.post(f"{own}/complete", json={}, headers=emails_worker)
    assert completed.json()["status"] == "completed"
