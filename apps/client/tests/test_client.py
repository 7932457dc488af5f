"""The client against real auth-service and task-service processes: typed answers,
typed problem+json errors, pagination, leases, events, service tokens and logins."""

from __future__ import annotations

import time
import uuid

import pydantic
import pytest

from taskplane_client import (
    AsyncTaskplaneClient,
    Completion,
    LeaseLostError,
    LoginExpiredError,
    NotFoundError,
    PreconditionFailedError,
    QueueConfig,
    RetryPolicy,
    SessionAuth,
    TaskCreate,
    TaskEnqueue,
    TaskFilter,
    TaskplaneClient,
    TaskUpdate,
    TokenExchangeError,
    TokenPair,
    ValidationFailedError,
    identity,
)
from taskplane_testing.platform import ADMIN_EMAIL, ADMIN_PASSWORD, Platform


def admin_client(platform: Platform) -> TaskplaneClient:
    return TaskplaneClient(
        platform.tasks.url, auth_url=platform.auth.url, token=platform.admin_token()
    )


def test_tasks_create_filter_page_update_delete(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:12]
    with admin_client(platform) as client:
        created = [
            client.create_task(TaskCreate(title=f"task {i}", priority=p, tags=[tag]))
            for i, p in enumerate(["high", "low", "high", "high", "low"])
        ]
        high = TaskFilter(priority=["high"], tag=[tag], sort="created_at")
        page = client.list_tasks(high, limit=2)
        assert [t.title for t in page.items] == ["task 0", "task 2"]
        assert page.next_cursor is not None
        assert [t.title for t in client.iter_tasks(high, page_size=2)] == [
            "task 0",
            "task 2",
            "task 3",
        ]

        first = created[0]
        changed = client.update_task(first.id, TaskUpdate(status="completed"), if_match=first.etag)
        assert (changed.status, changed.version) == ("completed", first.version + 1)
        with pytest.raises(PreconditionFailedError) as stale:
            client.update_task(first.id, TaskUpdate(title="again"), if_match=first.etag)
        assert stale.value.status == 412
        assert stale.value.detail  # the problem+json detail, not a stack

        client.delete_task(first.id)
        with pytest.raises(NotFoundError) as gone:
            client.get_task(first.id)
        assert str(first.id) in gone.value.detail or "not found" in gone.value.detail
        assert client.task_stats().total >= 4


def test_a_refused_body_is_a_validation_error_with_its_problems(platform: Platform) -> None:
    with admin_client(platform) as client, pytest.raises(ValidationFailedError) as refused:
        client.list_tasks(TaskFilter(status=["nonsense"]))
    assert refused.value.status == 422
    assert refused.value.errors, "the problem+json errors list is kept"


def test_queue_lease_heartbeat_complete_fail_and_events(platform: Platform) -> None:
    queue = f"client-{uuid.uuid4().hex[:8]}"
    with admin_client(platform) as client:
        client.put_queue(queue, QueueConfig(max_attempts=1, visibility_timeout_s=30))
        start = client.events().next_cursor
        queued = client.enqueue_many(queue, [TaskEnqueue(payload={"n": n}) for n in range(3)])
        assert [t.payload for t in queued] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert client.get_queue(queue).available == 3

        lease = client.lease(queue, "w1", max_tasks=3)
        assert all(t.visibility_timeout_s == 30 for t in lease.tasks)
        first, second, third = sorted(lease.tasks, key=lambda t: t.payload["n"])
        assert client.heartbeat(first, "w1").lease_id == first.lease_id
        assert client.complete(first, {"ok": True}, "w1").status == "completed"
        with pytest.raises(LeaseLostError):
            client.complete(first, None, "w1")  # a second completion: 409, nothing changes
        assert client.fail(second, "boom", retryable=False, worker_id="w1").status == "dead"
        assert client.release(third, "w1").status == "pending"

        dead = client.list_dead(queue)
        assert [t.id for t in dead] == [second.id]
        assert client.retry_dead(queue, second.id).status == "pending"

        newest = client.queue_tasks(queue, limit=2)
        rest = client.queue_tasks(queue, limit=2, cursor=newest.next_cursor)
        assert rest.next_cursor is None
        listed = {t.id: t.status for t in [*newest.items, *rest.items]}
        assert listed == {first.id: "completed", second.id: "pending", third.id: "pending"}
        completed = client.queue_tasks(queue, status=["completed"]).items
        assert [(t.id, t.queue and t.queue.result) for t in completed] == [(first.id, {"ok": True})]

        seen = {(e.type, e.task_id) for e in client.iter_events(start)}
        assert ("task.completed", first.id) in seen
        assert ("task.dead", second.id) in seen


def test_a_service_token_is_exchanged_for_access_tokens(platform: Platform) -> None:
    token = platform.service_token("client-test", "queues:work", "queues:admin")
    queue = f"svc-{uuid.uuid4().hex[:8]}"
    with TaskplaneClient(platform.tasks.url, auth_url=platform.auth.url, token=token) as client:
        client.put_queue(queue, QueueConfig())
        assert client.lease(queue, "w").tasks == []
    with (
        TaskplaneClient(
            platform.tasks.url, auth_url=platform.auth.url, token="tps_" + "0" * 40
        ) as refused,
        pytest.raises(TokenExchangeError, match=r"refused the service token \(401\)"),
    ):
        refused.get_queue(queue)


def test_a_login_refreshes_itself_and_ends_with_login_expired(platform: Platform) -> None:
    with TaskplaneClient(platform.tasks.url, auth_url=platform.auth.url) as anonymous:
        pair = anonymous.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert "admin" in identity(pair.access_token).roles
    stored: list[TokenPair] = []
    # Expired on arrival: the first call refreshes first and hands over the new pair.
    session = SessionAuth(
        pair,
        platform.auth.url,
        expires_at=time.time() - 1,
        on_refresh=lambda p, _: stored.append(p),
    )
    with TaskplaneClient(platform.tasks.url, auth_url=platform.auth.url, auth=session) as client:
        client.task_stats()
        assert len(stored) == 1
        assert stored[0].refresh_token != pair.refresh_token
        client.logout(stored[0].refresh_token)
        session.expires_at = 0  # the access token "expires"; the refresh token was revoked
        with pytest.raises(LoginExpiredError, match="log in again"):
            client.task_stats()


def test_retry_after_of_a_429_is_honoured(platform: Platform) -> None:
    waits: list[tuple[str, float]] = []
    policy = RetryPolicy(
        attempts=2, retry_after_max_s=0.2, on_retry=lambda name, _, wait: waits.append((name, wait))
    )
    email = f"nobody-{uuid.uuid4().hex[:6]}@example.org"
    with TaskplaneClient(platform.tasks.url, auth_url=platform.auth.url, retry=policy) as client:
        failures = 0
        while not waits:
            failures += 1
            assert failures < 50, "the account's login limit never answered 429"
            with pytest.raises(Exception):  # noqa: B017 - 401 first, then 429
                client.login(email, "wrong password")
    # The server asked for at least a second (Retry-After); the policy caps it at 0.2.
    assert waits[0] == ("login", 0.2)


async def test_async_client_lease_actions_complete_fail_and_heartbeat(platform: Platform) -> None:
    queue = f"async-{uuid.uuid4().hex[:8]}"
    async with AsyncTaskplaneClient(
        platform.tasks.url, auth_url=platform.auth.url, token=platform.admin_token()
    ) as client:
        await client.put_queue(queue, QueueConfig(max_attempts=1))
        good = await client.enqueue(queue, TaskEnqueue(payload={"x": 2}))
        bad = await client.enqueue(queue, TaskEnqueue(payload={"x": "two"}))
        leased = {task.id: task for task in (await client.lease(queue, "w", max_tasks=2)).tasks}
        assert set(leased) == {good.id, bad.id}
        unknown = uuid.uuid4()
        extended = await client.heartbeat_many([t.lease_id for t in leased.values()] + [unknown])
        assert extended == {t.lease_id for t in leased.values()}, "an unknown lease is left out"
        await client.complete(leased[good.id], 4, "w")
        await client.fail(leased[bad.id], "ValueError: two", worker_id="w")
        done, failed = await client.get_task(good.id), await client.get_task(bad.id)
        assert done.status == "completed"
        assert done.queue is not None
        assert done.queue.result == 4
        assert failed.status == "dead"
        assert failed.queue is not None
        assert "ValueError" in (failed.queue.last_error or "")
        assert await client.heartbeat_many([leased[good.id].lease_id]) == set()

        # complete_many reports a lease it does not know as not completed.
        await client.enqueue(queue, TaskEnqueue())
        leased_now = (await client.lease(queue, "w")).tasks
        results = await client.complete_many(
            [Completion(lease_id=leased_now[0].lease_id), Completion(lease_id=uuid.uuid4())], "w"
        )
        assert [r.completed for r in results] == [True, False]


def test_workload_bindings_are_put_listed_and_deleted(platform: Platform) -> None:
    namespace = f"ns-{uuid.uuid4().hex[:8]}"
    with admin_client(platform) as client:
        bound = client.put_workload_binding(namespace, "emails-worker", "emails")
        assert (bound.namespace, bound.service_account, bound.queue) == (
            namespace,
            "emails-worker",
            "emails",
        )
        assert client.put_workload_binding(namespace, "emails-worker", "emails") == bound
        assert bound in client.list_workload_bindings()
        pinned = client.put_workload_binding(namespace, "emails-worker", "emails", "sa-uid-1")
        assert pinned.service_account_uid == "sa-uid-1"  # a recreated one is refused
        for _ in range(2):
            client.delete_workload_binding(namespace, "emails-worker")
        assert all(b.namespace != namespace for b in client.list_workload_bindings())
        with pytest.raises(pydantic.ValidationError):
            client.put_workload_binding("Not_A_Namespace", "emails-worker", "emails")
        with pytest.raises(NotFoundError, match="not enabled"):
            client.exchange_kubernetes_token("header.payload.signature")
