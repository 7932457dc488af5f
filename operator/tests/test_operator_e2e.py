"""End to end: the real operator process (python -m taskplane_operator) against kmock's
Kubernetes emulator serving our CRD and the task-service fixture, over real HTTP.

Every TaskQueue here polls each second; the emulator has no controllers, so a test that
needs ready pods writes the Deployment's status itself, as the Deployment controller would.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from taskplane_testing.kube import (
    Kube,
    Queues,
    child_path,
    condition,
    gone,
    marked_for_deletion,
    tq_path,
)
from taskplane_testing.operator import OperatorProcess
from taskplane_testing.task_service import FakeTaskService
from taskplane_testing.waiting import POLL_S, WaitFor

pytestmark = pytest.mark.filterwarnings("ignore:read_binary is deprecated:DeprecationWarning")

WINDOW_S = 3


@pytest.fixture
async def queues(
    kube: Kube,
    task_service: FakeTaskService,
    operator_process: OperatorProcess,
    wait_for: WaitFor,
) -> AsyncIterator[Queues]:
    helper = Queues(kube, wait_for, poll_s=POLL_S, window_s=WINDOW_S)
    yield helper
    task_service.outage = False
    for name in helper.created:
        await task_service.set_depth(helper.queue(name))
        await kube.delete(tq_path(helper.ns, name))
    assert operator_process.process.returncode is None, operator_process.log()[-4000:]


async def test_create_reconciles_children_and_reports_status(
    queues: Queues, kube: Kube, task_service: FakeTaskService
) -> None:
    tq = await queues.create("orders", visibilityTimeoutSeconds=120, retry={"maxAttempts": 7})
    uid, ns = tq["metadata"]["uid"], queues.ns

    children = {
        kind: await queues.wait_for(lambda kind=kind: kube.get(child_path(kind, ns, "orders")))
        for kind in ("serviceaccounts", "deployments", "poddisruptionbudgets", "podmonitors")
    }
    for kind, child in children.items():
        (owner,) = child["metadata"]["ownerReferences"]
        assert owner == {
            "apiVersion": "taskplane.io/v1alpha1",
            "kind": "TaskQueue",
            "name": "orders",
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }, kind
        assert child["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "taskplane-operator"

    pod = children["deployments"]["spec"]["template"]["spec"]
    (worker,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert worker["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["terminationGracePeriodSeconds"] >= 120
    assert worker["image"] == "registry.example/taskplane-worker:test"
    assert worker["args"] == [
        "--queue",
        f"{ns}.orders",
        "--handler",
        "builtin:noop",
        "--concurrency",
        "4",
    ]
    env = {item["name"]: item for item in worker["env"]}
    assert env["TASKPLANE_API_URL"]["value"] == task_service.url
    assert "TASKPLANE_TOKEN" not in env
    assert children["serviceaccounts"]["automountServiceAccountToken"] is False
    assert children["poddisruptionbudgets"]["spec"]["maxUnavailable"] == 1

    # The queue configuration reached the task-service, with the operator's token.
    config = await queues.wait_for(lambda: task_service.queue_config(f"{ns}.orders"))
    assert config == {
        "max_attempts": 7,
        "visibility_timeout_s": 120,
        "backoff_base_s": 2,
        "backoff_max_s": 300,
        "paused": False,
        "rate_limit_per_s": None,
        "max_in_flight": None,
    }
    assert (
        "PUT",
        f"/api/v1/queues/{ns}.orders",
        f"Bearer {task_service.token}",
    ) in task_service.requests

    # An idle queue at zero replicas is Ready; every condition names its generation.
    ready = await queues.wait_condition("orders", "Ready", "True")
    assert ready["reason"] == "Idle"
    obj = await queues.tq("orders")
    assert obj is not None
    status = obj["status"]
    assert {c["type"] for c in status["conditions"]} == {"Ready", "Scaling", "Paused", "Degraded"}
    assert all(
        c["observedGeneration"] == 1 and c["lastTransitionTime"] for c in status["conditions"]
    )
    assert status["observedGeneration"] == 1
    assert status["queueName"] == f"{ns}.orders"
    assert status["selector"] == (
        "app.kubernetes.io/instance=orders,app.kubernetes.io/name=taskplane-worker"
    )

    # Work arrives; once the pods report ready (the controller's job), Ready says so.
    await task_service.set_depth(f"{ns}.orders", available=3)
    await queues.wait_replicas("orders", 2)
    not_ready = await queues.wait_condition("orders", "Ready", "False")
    assert not_ready["reason"] == "WorkersNotReady"
    await queues.pods_ready("orders", 2)
    ready = await queues.wait_condition("orders", "Ready", "True")
    assert ready["reason"] == "WorkersReady"
    assert ready["message"] == "2/2 workers ready"


async def test_workers_in_a_fresh_namespace_get_a_projected_token_bound_to_their_queue_only(
    queues: Queues, kube: Kube, task_service: FakeTaskService
) -> None:
    """No Secret to create or copy: the pod's own ServiceAccount token is its credential,
    and the operator binds that ServiceAccount to exactly this queue until deletion."""
    ns = queues.ns  # a namespace nothing was prepared in
    await queues.create("invoices", deletionPolicy="Retain")
    deployment = await queues.wait_for(lambda: queues.deployment("invoices"))
    pod = deployment["spec"]["template"]["spec"]
    (worker,) = pod["containers"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    (source,) = volumes["taskplane-token"]["projected"]["sources"]
    assert source == {
        "serviceAccountToken": {"audience": "taskplane", "expirationSeconds": 3600, "path": "token"}
    }
    assert {
        "name": "taskplane-token",
        "mountPath": "/var/run/secrets/taskplane/serviceaccount",
        "readOnly": True,
    } in worker["volumeMounts"]
    env = {item["name"]: item.get("value") for item in worker["env"]}
    assert env["TASKPLANE_TOKEN_FILE"] == "/var/run/secrets/taskplane/serviceaccount/token"
    assert env["TASKPLANE_AUTH_URL"] == task_service.url
    assert not any("secretKeyRef" in str(item) for item in worker["env"])
    assert pod["serviceAccountName"] == "invoices-worker"
    assert pod["automountServiceAccountToken"] is False  # no Kubernetes API token

    async def bound() -> dict[str, str] | None:
        return task_service.bindings.in_namespace(ns) or None

    assert await queues.wait_for(bound) == {"invoices-worker": f"{ns}.invoices"}
    assert ("PUT", ns, "invoices-worker", f"Bearer {task_service.token}") in (
        task_service.bindings.requests
    )
    # The operator never touched a Secret (the request log, before our own look) ...
    assert list(kube.emulator[re.compile(r".*/secrets(/.*)?")]) == []
    # ... and there is none in the namespace.
    secrets = await kube.get(f"/api/v1/namespaces/{ns}/secrets")
    assert secrets is None or secrets.get("items") == []

    await kube.delete(tq_path(ns, "invoices"))
    await queues.wait_for(lambda: gone(queues, "invoices"))
    assert task_service.bindings.in_namespace(ns) == {}
    assert ("DELETE", ns, "invoices-worker", f"Bearer {task_service.token}") in (
        task_service.bindings.requests
    )


async def test_a_queue_is_registered_once_per_configuration_never_per_poll(
    queues: Queues, task_service: FakeTaskService, kube: Kube
) -> None:
    """A new TaskQueue costs one queue PUT and one binding PUT (the autoscaler is the one
    place that registers); steady polls and a spec change the task-service does not see
    cost none; a new queue configuration costs one more of each."""
    queue, ns = queues.queue("once"), queues.ns
    path = f"/api/v1/queues/{queue}"

    def puts() -> tuple[int, int]:
        """(queue PUTs, binding PUTs) the two test doubles received for this TaskQueue."""
        queue_puts = [r for r in task_service.requests if r[:2] == ("PUT", path)]
        binding_puts = [
            r for r in task_service.bindings.requests if r[:3] == ("PUT", ns, "once-worker")
        ]
        return len(queue_puts), len(binding_puts)

    async def count() -> None:
        """Probed at every stats read: polls are counted, not timed."""

    task_service.probe(queue, count)
    await queues.create("once")
    await queues.wait_condition("once", "Ready", "True")
    await task_service.next_polls(queue, 3)
    assert puts() == (1, 1)

    await kube.patch_spec(ns, "once", {"worker": {"concurrency": 8}})
    await queues.wait_for(lambda: _observed(queues, "once", 2))
    await task_service.next_polls(queue, 3)
    assert puts() == (1, 1)

    await kube.patch_spec(ns, "once", {"retry": {"maxAttempts": 9}})
    config = await queues.wait_for(lambda: _configured(task_service, queue, max_attempts=9))
    assert config["max_attempts"] == 9
    await task_service.next_polls(queue, 3)
    assert puts() == (2, 2)


async def test_a_recreated_service_account_is_bound_again_by_its_new_uid(
    queues: Queues, task_service: FakeTaskService, kube: Kube
) -> None:
    """The auth-service refuses tokens of a ServiceAccount whose uid is not the binding's:
    when someone deletes the workers' ServiceAccount, the operator recreates it and binds
    the new uid with one binding PUT (and no queue PUT). kmock assigns no uids, so the
    test sets each one as the API server would on create."""
    queue, ns = queues.queue("renewed"), queues.ns
    account = child_path("serviceaccounts", ns, "renewed")
    queue_path = f"/api/v1/queues/{queue}"

    def uids() -> list[str | None]:
        """``service_account_uid`` of each binding PUT for this TaskQueue, in order."""
        return [
            uid for n, sa, uid in task_service.bindings.uids if (n, sa) == (ns, "renewed-worker")
        ]

    async def assign_uid(uid: str) -> None:
        """Wait for the ServiceAccount to exist, then give it ``uid`` (the API server's job)."""
        await queues.wait_for(lambda: kube.get(account))
        patch = {"metadata": {"uid": uid}}
        headers = {"Content-Type": "application/merge-patch+json"}
        (await kube.http.patch(account, json=patch, headers=headers)).raise_for_status()

    async def bound_last(uid: str) -> bool:
        return uids()[-1:] == [uid]

    async def count() -> None:
        """Probed at every stats read: polls are counted, not timed."""

    task_service.probe(queue, count)
    await queues.create("renewed")
    await assign_uid("uid-1")
    await queues.wait_for(lambda: bound_last("uid-1"))
    queue_puts = [r for r in task_service.requests if r[:2] == ("PUT", queue_path)]

    await kube.delete(account)
    await assign_uid("uid-2")  # the operator recreated it
    await queues.wait_for(lambda: bound_last("uid-2"))
    await task_service.next_polls(queue, 3)
    assert uids().count("uid-1") == 1
    assert uids().count("uid-2") == 1
    assert [r for r in task_service.requests if r[:2] == ("PUT", queue_path)] == queue_puts


async def test_a_spec_change_is_registered_without_waiting_for_the_next_poll(
    queues: Queues, task_service: FakeTaskService, kube: Kube
) -> None:
    """The spec handler wakes the autoscaler: with an hour between polls, a new queue
    configuration still reaches the task-service within the usual bound of a wait."""
    queue = queues.queue("hourly")
    scaling = {"minReplicas": 0, "maxReplicas": 2, "pollIntervalSeconds": 3600}
    await queues.create("hourly", scaling=scaling)
    await queues.wait_for(lambda: _configured(task_service, queue, max_attempts=5))

    await kube.patch_spec(queues.ns, "hourly", {"retry": {"maxAttempts": 9}})
    config = await queues.wait_for(lambda: _configured(task_service, queue, max_attempts=9))
    assert config["max_attempts"] == 9


async def _configured(
    task_service: FakeTaskService, queue: str, **expected: Any
) -> dict[str, Any] | None:
    config = await task_service.queue_config(queue)
    return config if config and expected.items() <= config.items() else None


async def test_depth_scales_up_within_a_poll_and_down_after_the_window(
    queues: Queues, task_service: FakeTaskService
) -> None:
    await queues.create("burst")
    queue = queues.queue("burst")
    await queues.wait_condition("burst", "Ready", "True")
    assert await queues.replicas("burst") == 0

    # Scale from zero on the first task, then by the formula, then clamped at max: each
    # within one poll, counted in polls (the probe runs as each poll reads the depth).
    task_service.probe(queue, lambda: queues.replicas("burst"))
    for depth, expected in (
        ({"available": 1}, 1),
        ({"available": 5, "in_flight": 2}, 4),  # ceil(7 / 2) = 4
        ({"available": 100}, 5),
    ):
        await task_service.set_depth(queue, **depth)
        # The first poll reads the new depth and scales; the next one sees the result.
        assert (await task_service.next_polls(queue, 2))[1] == expected

    # A lower recommendation takes effect only after holding for the whole window.
    await queues.pods_ready("burst", 5)
    await task_service.set_depth(queue, available=1)  # recommends 1
    held = await queues.wait_condition("burst", "Scaling", "False")
    assert held["reason"] == "ScaleDownStabilizing"
    assert await queues.replicas("burst") == 5
    waited = await queues.wait_replicas("burst", 1)
    assert waited >= WINDOW_S - POLL_S  # the first poll after the change may be up to 1 s late

    reasons = await queues.event_reasons("burst")
    assert "ScaledUp" in reasons
    assert "ScaledDown" in reasons
    obj = await queues.tq("burst")
    assert obj is not None
    assert obj["status"]["available"] == 1
    assert obj["status"]["desiredReplicas"] == 1
    assert obj["status"]["lastScaleTime"]


async def test_pause_scales_to_zero_and_pauses_the_queue(
    queues: Queues, task_service: FakeTaskService, kube: Kube
) -> None:
    await queues.create("mail")
    queue = queues.queue("mail")
    await task_service.set_depth(queue, available=6)
    await queues.wait_replicas("mail", 3)
    before = condition(await queues.tq("mail"), "Degraded")

    await kube.patch_spec(queues.ns, "mail", {"paused": True})
    # Not held for the stabilization window: pausing is an order, not a trend.
    await queues.wait_replicas("mail", 0)
    assert any(
        event["reason"] == "ScaledDown" and event["message"] == "workers 3 -> 0: Paused"
        for event in await kube.events(queues.ns)
    )
    paused = await queues.wait_condition("mail", "Paused", "True")
    assert paused["reason"] == "PausedBySpec"
    assert paused["observedGeneration"] == 2
    config = await queues.wait_for(lambda: _configured(task_service, queue, paused=True))
    assert config["paused"] is True
    # Degraded did not change status, so its lastTransitionTime did not move either.
    assert condition(await queues.tq("mail"), "Degraded") == {**before, "observedGeneration": 2}

    await kube.patch_spec(queues.ns, "mail", {"paused": False})
    await queues.wait_replicas("mail", 3)
    await queues.wait_condition("mail", "Paused", "False")


async def test_concurrency_change_rolls_the_pod_template(
    queues: Queues, task_service: FakeTaskService, kube: Kube
) -> None:
    await _scaled_up(queues, task_service, "render", available=4, replicas=2)
    deployment = await queues.deployment("render")
    assert deployment is not None
    old_template = deployment["spec"]["template"]

    await kube.patch_spec(queues.ns, "render", {"worker": {"concurrency": 8}})

    async def rolled() -> dict[str, Any] | None:
        current = await queues.deployment("render")
        args = current["spec"]["template"]["spec"]["containers"][0]["args"] if current else []
        return current if args[-2:] == ["--concurrency", "8"] else None

    new = await queues.wait_for(rolled)
    assert new["spec"]["template"] != old_template
    assert new["spec"]["replicas"] == 2  # the autoscaler's value survives a reconcile
    obj = await queues.wait_for(lambda: _observed(queues, "render", 2))
    assert all(c["observedGeneration"] == 2 for c in obj["status"]["conditions"])


async def _observed(queues: Queues, name: str, generation: int) -> dict[str, Any] | None:
    obj = await queues.tq(name)
    return obj if obj and obj["status"].get("observedGeneration") == generation else None


async def test_drain_holds_deletion_until_the_queue_is_empty(
    queues: Queues, task_service: FakeTaskService, kube: Kube
) -> None:
    await queues.create("drainme", deletionPolicy="Drain")
    queue = queues.queue("drainme")
    await task_service.set_depth(queue, available=3, in_flight=2)
    await queues.wait_replicas("drainme", 3)
    await queues.wait_for(lambda: queues.handled(["drainme"]))  # registered and bound

    await kube.delete(tq_path(queues.ns, "drainme"))
    await queues.wait_for(lambda: marked_for_deletion(queues, "drainme"))
    time_held = time.monotonic()
    while time.monotonic() - time_held < 2 * POLL_S + 0.5:
        assert await queues.tq("drainme") is not None, "deleted while tasks remained"
        assert (await queues.replicas("drainme") or 0) >= 1, "workers stopped mid-drain"
        # Draining workers still exchange their tokens: the binding stays until the end.
        assert task_service.bindings.in_namespace(queues.ns) == {"drainme-worker": queue}
        await asyncio.sleep(0.25)

    await task_service.set_depth(queue, available=0, in_flight=0)
    await queues.wait_for(lambda: gone(queues, "drainme"))
    assert await task_service.queue_config(queue) is not None  # Drain keeps the queue
    assert task_service.bindings.in_namespace(queues.ns) == {}


async def test_delete_policy_deletes_the_queue_and_tolerates_no_endpoint(
    queues: Queues, task_service: FakeTaskService, kube: Kube
) -> None:
    await queues.create("gone", deletionPolicy="Delete")
    await queues.create("stays", deletionPolicy="Delete")
    for name in ("gone", "stays"):
        await queues.wait_for(lambda name=name: task_service.queue_config(queues.queue(name)))

    await queues.wait_for(lambda: queues.handled(["gone", "stays"]))
    await kube.delete(tq_path(queues.ns, "gone"))
    await queues.wait_for(lambda: gone(queues, "gone"))
    assert await task_service.queue_config(queues.queue("gone")) is None

    task_service.delete_supported = False  # a task-service without DELETE answers 405
    try:
        await kube.delete(tq_path(queues.ns, "stays"))
        await queues.wait_for(lambda: gone(queues, "stays"))
    finally:
        task_service.delete_supported = True
    assert await task_service.queue_config(queues.queue("stays")) is not None
    assert "QueueNotDeleted" in await queues.event_reasons("stays")
    assert task_service.bindings.in_namespace(queues.ns) == {}  # revoked either way


async def test_queue_delete_failing_past_the_timeout_still_revokes_the_binding(
    queues: Queues, task_service: FakeTaskService, kube: Kube
) -> None:
    """The Delete policy's queue DELETE keeps failing: once deletionTimeoutSeconds pass,
    the operator gives up on the queue but still deletes the worker binding."""
    ns = queues.ns
    await queues.create("stuck", deletionPolicy="Delete", deletionTimeoutSeconds=2)
    await queues.wait_for(lambda: queues.handled(["stuck"]))

    async def bound() -> bool:
        return "stuck-worker" in task_service.bindings.in_namespace(ns)

    await queues.wait_for(bound)

    task_service.delete_failing = True
    try:
        await kube.delete(tq_path(ns, "stuck"))
        await queues.wait_for(lambda: gone(queues, "stuck"))
    finally:
        task_service.delete_failing = False
    queue_deletes = [
        r
        for r in task_service.requests
        if r[:2] == ("DELETE", f"/api/v1/queues/{queues.queue('stuck')}")
    ]
    assert len(queue_deletes) >= 2  # retried until the timeout, never succeeded
    assert await task_service.queue_config(queues.queue("stuck")) is not None
    assert "DeletionTimedOut" in await queues.event_reasons("stuck")
    assert ("DELETE", ns, "stuck-worker", f"Bearer {task_service.token}") in (
        task_service.bindings.requests
    )
    assert task_service.bindings.in_namespace(ns) == {}


async def test_a_failing_revocation_is_retried_then_named_in_a_warning(
    queues: Queues, task_service: FakeTaskService, kube: Kube
) -> None:
    """The binding DELETE itself fails: retried until it succeeds; one that fails for
    deletionTimeoutSeconds leaves a Warning naming the ServiceAccount still bound."""
    ns = queues.ns
    await queues.create("flaky", deletionPolicy="Retain", deletionTimeoutSeconds=60)
    await queues.create("broken", deletionPolicy="Retain", deletionTimeoutSeconds=2)
    await queues.wait_for(lambda: queues.handled(["flaky", "broken"]))

    async def both_bound() -> bool:
        return len(task_service.bindings.in_namespace(ns)) == 2

    await queues.wait_for(both_bound)

    def unbinds(sa: str) -> int:
        return sum(1 for r in task_service.bindings.requests if r[:3] == ("DELETE", ns, sa))

    task_service.bindings.unbind_failing = True
    try:
        await kube.delete(tq_path(ns, "flaky"))
        await kube.delete(tq_path(ns, "broken"))
        await queues.wait_for(lambda: gone(queues, "broken"))
        assert unbinds("broken-worker") >= 2

        async def retried() -> bool:
            return unbinds("flaky-worker") >= 2

        await queues.wait_for(retried)
        assert await queues.tq("flaky") is not None  # held while the revocation fails
    finally:
        task_service.bindings.unbind_failing = False
    await queues.wait_for(lambda: gone(queues, "flaky"))
    assert task_service.bindings.in_namespace(ns) == {"broken-worker": queues.queue("broken")}
    warnings = [
        event["message"]
        for event in await kube.events(ns)
        if event.get("reason") == "BindingNotRevoked"
    ]
    assert warnings
    for warning in warnings:
        assert f"{ns}/broken-worker is still bound to queue {queues.queue('broken')}" in warning
    assert "BindingNotRevoked" not in await queues.event_reasons("flaky")
    task_service.bindings.bound.clear()  # the hand deletion the Warning asks for


async def test_task_service_outage_degrades_but_keeps_workers(
    queues: Queues, task_service: FakeTaskService, operator_process: OperatorProcess
) -> None:
    await _scaled_up(queues, task_service, "steady", available=4, replicas=2)
    paused_before = condition(await queues.tq("steady"), "Paused")

    task_service.outage = True
    degraded = await queues.wait_condition("steady", "Degraded", "True")
    assert degraded["reason"] == "TaskServiceUnavailable"
    assert "HTTP 503" in degraded["message"]
    ready = condition(await queues.tq("steady"), "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "TaskServiceUnavailable")
    await asyncio.sleep(2 * POLL_S)
    assert await queues.replicas("steady") == 2  # never scaled blind
    assert operator_process.process.returncode is None
    assert "TaskServiceUnavailable" in await queues.event_reasons("steady")

    task_service.outage = False
    recovered = await queues.wait_condition("steady", "Degraded", "False")
    assert recovered["lastTransitionTime"] >= degraded["lastTransitionTime"]
    assert condition(await queues.tq("steady"), "Paused") == paused_before
    assert "Recovered" in await queues.event_reasons("steady")


async def test_invalid_handler_is_degraded_until_fixed(queues: Queues, kube: Kube) -> None:
    # The CRD pattern refuses this at admission; here it slipped past (e.g. an old CRD).
    await queues.create("broken", admit=False, worker={"handler": "ftp://files/x"})
    degraded = await queues.wait_condition("broken", "Degraded", "True")
    assert degraded["reason"] == "InvalidSpec"
    assert "spec.worker.handler" in degraded["message"]
    assert "ftp://files/x" in degraded["message"]
    assert await queues.deployment("broken") is None
    assert "InvalidSpec" in await queues.event_reasons("broken")

    await kube.patch_spec(queues.ns, "broken", {"worker": {"handler": "python:jobs.tasks:run"}})
    deployment = await queues.wait_for(lambda: queues.deployment("broken"))
    assert (
        "python:jobs.tasks:run" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    )
    await queues.wait_condition("broken", "Degraded", "False")


async def test_liveness_and_metrics_endpoints(
    queues: Queues, task_service: FakeTaskService, operator_process: OperatorProcess
) -> None:
    await _scaled_up(queues, task_service, "metered", available=3, replicas=2)
    labels = {"namespace": queues.ns, "taskqueue": "metered", "queue": queues.queue("metered")}
    async with httpx.AsyncClient(timeout=5) as client:
        assert (await client.get(operator_process.health_url)).status_code == 200

        async def scraped() -> str | None:
            text = (await client.get(operator_process.metrics_url)).text
            return text if sample(text, "taskplane_operator_desired_replicas", labels) else None

        text = await queues.wait_for(scraped)
    assert sample(text, "taskplane_operator_desired_replicas", labels) == 2
    assert sample(text, "taskplane_operator_queue_tasks", {**labels, "state": "available"}) == 3
    decisions = "taskplane_operator_scaling_decisions_total"
    assert (sample(text, decisions, {**labels, "direction": "up"}) or 0) >= 1
    reconciles = {"handler": "reconcile_workers", "result": "success"}
    assert (sample(text, "taskplane_operator_reconciles_total", reconciles) or 0) >= 1


def sample(text: str, name: str, labels: dict[str, str]) -> float | None:
    """The value of one series in a Prometheus text exposition, if present."""
    for family in text_string_to_metric_families(text):
        for item in family.samples:
            if item.name == name and item.labels == labels:
                return float(item.value)
    return None


async def test_hand_edited_pod_template_is_restored_within_a_poll(
    queues: Queues, task_service: FakeTaskService, kube: Kube
) -> None:
    await queues.create("drifty")
    await queues.wait_condition("drifty", "Ready", "True")
    await queues.wait_for(lambda: queues.handled(["drifty"]))
    path = child_path("deployments", queues.ns, "drifty")

    async def template() -> tuple[str, dict[str, str]]:
        deployment = await kube.get(path)
        assert deployment is not None
        pod = deployment["spec"]["template"]
        return pod["spec"]["containers"][0]["image"], pod["metadata"].get("annotations", {})

    task_service.probe(queues.queue("drifty"), template)
    # `kubectl edit`: another image; `kubectl rollout restart`: a template annotation.
    restarted = {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}
    edited = await kube.get(path)
    assert edited is not None
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = "evil/worker:hand-made"
    edited["spec"]["template"]["metadata"]["annotations"] = restarted
    response = await kube.http.patch(
        path,
        json={"spec": edited["spec"]},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    response.raise_for_status()

    # A poll in progress may have checked the children before the edit; the next did not.
    _, after_one_poll = await task_service.next_polls(queues.queue("drifty"), 2)
    assert after_one_poll == ("registry.example/taskplane-worker:test", restarted)
    drift = [e for e in await kube.events(queues.ns) if e["reason"] == "DriftCorrected"]
    assert [e["involvedObject"]["name"] for e in drift] == ["drifty"]
    assert drift[0]["type"] == "Normal"
    assert drift[0]["message"] == (
        "put back Deployment spec.template.spec.containers[worker].image"
    )


async def test_degraded_clears_within_a_poll_of_recovery(
    queues: Queues, task_service: FakeTaskService
) -> None:
    """Created during an outage: every poll fails to register the queue until the
    task-service returns; the next poll registers it and clears Degraded."""
    queue = queues.queue("late")

    async def conditions() -> tuple[str, str]:
        obj = await queues.tq("late")
        return condition(obj, "Degraded").get("status", ""), condition(obj, "Ready")["status"]

    task_service.probe(queue, conditions)
    task_service.outage = True
    await queues.create("late")
    degraded = await queues.wait_condition("late", "Degraded", "True")
    assert degraded["reason"] == "TaskServiceUnavailable"

    task_service.outage = False
    polls = await task_service.next_polls(queue, 2)
    assert polls[1] == ("False", "True")  # written by the first poll after recovery
    assert await task_service.queue_config(queue) is not None


@pytest.mark.parametrize(
    ("label", "scaling", "field"),
    [
        ("max zero", {"maxReplicas": 0}, "spec.scaling.maxReplicas"),
        ("min above max", {"minReplicas": 5, "maxReplicas": 3}, "spec.scaling"),
    ],
)
async def test_spec_past_admission_is_invalid_and_changes_no_workers(
    queues: Queues, task_service: FakeTaskService, kube: Kube, label: str, scaling: Any, field: str
) -> None:
    name = "past-" + label.replace(" ", "-")
    await queues.create(name)
    await task_service.set_depth(queues.queue(name), available=4)
    await queues.wait_replicas(name, 2)

    # An older CRD, a server without CEL or an etcd write: admission never saw this.
    await kube.patch_spec(queues.ns, name, {"scaling": scaling}, admit=False)
    degraded = await queues.wait_condition(name, "Degraded", "True", reason="InvalidSpec")
    assert field in degraded["message"]
    ready = condition(await queues.tq(name), "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    await asyncio.sleep(3 * POLL_S)  # several polls and handler runs with the bad spec
    assert await queues.replicas(name) == 2
    warnings = [
        event
        for event in await kube.events(queues.ns)
        if event["involvedObject"]["name"] == name and event["reason"] == "InvalidSpec"
    ]
    assert len(warnings) == 1
    assert warnings[0]["type"] == "Warning"


async def test_oldest_age_gauge_reads_zero_on_an_empty_queue(
    queues: Queues, task_service: FakeTaskService, operator_process: OperatorProcess
) -> None:
    await queues.create("aging")
    queue = queues.queue("aging")
    labels = {"namespace": queues.ns, "taskqueue": "aging", "queue": queue}
    gauge = "taskplane_operator_queue_oldest_available_age_seconds"

    async def oldest() -> float | None:
        async with httpx.AsyncClient(timeout=5) as client:
            return sample((await client.get(operator_process.metrics_url)).text, gauge, labels)

    await task_service.set_depth(queue, available=3)  # oldest task 1.5 s old
    await queues.wait_for(lambda: _equals(oldest, 1.5))
    await task_service.set_depth(queue)  # empty: the task-service reports null
    await queues.wait_for(lambda: _equals(oldest, 0.0))
    obj = await queues.tq("aging")
    assert obj is not None
    assert obj["status"]["oldestAvailableAgeSeconds"] == 0


async def _equals(read: Callable[[], Awaitable[float | None]], expected: float) -> bool:
    return await read() == expected


# The Kubernetes API calls the operator makes, as verbs per resource; operator/README.md
# lists the same under "RBAC". kopf's discovery GETs (/api, /apis/...) need no rule.
RBAC_USED = {
    ("taskplane.io", "taskqueues"): {"list", "watch", "patch"},
    ("taskplane.io", "taskqueues/status"): {"patch"},
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"},
    ("", "events"): {"create"},
    ("", "serviceaccounts"): {"get", "create", "patch"},
    ("apps", "deployments"): {"get", "create", "patch"},
    ("policy", "poddisruptionbudgets"): {"get", "create", "patch"},
    ("monitoring.coreos.com", "podmonitors"): {"get", "create", "patch"},
}
VERBS = {"FETCH": "get", "LIST": "list", "WATCH": "watch", "CREATE": "create", "UPDATE": "patch"}


async def test_operator_calls_stay_within_documented_rbac(kube: Kube) -> None:
    """Runs last in this module, over every request the operator sent in the tests above."""
    used: dict[tuple[str, str], set[str]] = {}
    for request in kube.emulator:
        agent = request.headers.get("User-Agent", "")
        if not agent.startswith(("kopf/", "taskplane-operator")):
            continue
        if request.resource is None or request.resource.plural is None:
            continue  # discovery: /api, /apis/<group>[/<version>]
        plural = request.resource.plural
        if request.subresource:
            plural += f"/{request.subresource}"
        verb = VERBS[str(request.action).rsplit(".", 1)[-1]]
        used.setdefault((request.resource.group, plural), set()).add(verb)
    assert used, "no operator requests recorded"
    for resource, verbs in used.items():
        assert verbs <= RBAC_USED.get(resource, set()), resource
    assert used[("apps", "deployments")] == {"get", "create", "patch"}


async def _scaled_up(
    queues: Queues, task_service: FakeTaskService, name: str, *, available: int, replicas: int
) -> None:
    """A TaskQueue whose queue holds `available` tasks, once the operator has scaled it."""
    await queues.create(name)
    await task_service.set_depth(queues.queue(name), available=available)
    await queues.wait_replicas(name, replicas)
