"""End to end, deletion and outages: drain, delete policy, binding revocation,
task-service outages and invalid handlers (the real operator process against kmock's
emulator; the setup is described in test_operator_e2e.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from taskplane_testing.kube import (
    Kube,
    Queues,
    condition,
    gone,
    marked_for_deletion,
    tq_path,
)
from taskplane_testing.operator import OperatorProcess
from taskplane_testing.task_service import FakeTaskService
from taskplane_testing.waiting import POLL_S

from .conftest import _scaled_up

pytestmark = pytest.mark.filterwarnings("ignore:read_binary is deprecated:DeprecationWarning")


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


async def test_delete_policy_deletes_the_queue_and_revokes_the_binding(
    queues: Queues, task_service: FakeTaskService, kube: Kube
) -> None:
    await queues.create("gone", deletionPolicy="Delete")
    await queues.wait_for(lambda: task_service.queue_config(queues.queue("gone")))
    await queues.wait_for(lambda: queues.handled(["gone"]))

    await kube.delete(tq_path(queues.ns, "gone"))
    await queues.wait_for(lambda: gone(queues, "gone"))
    assert await task_service.queue_config(queues.queue("gone")) is None
    assert "QueueDeleted" in await queues.event_reasons("gone")
    assert task_service.bindings.in_namespace(queues.ns) == {}


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
