"""End to end, scaling and health: depth scaling, pause, metrics, self-healing,
admission and the oldest-age gauge (the real operator process against kmock's
emulator; the setup is described in test_operator_e2e.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from taskplane_testing.kube import (
    Kube,
    Queues,
    child_path,
    condition,
)
from taskplane_testing.operator import OperatorProcess
from taskplane_testing.task_service import FakeTaskService
from taskplane_testing.waiting import POLL_S

from .conftest import WINDOW_S, _configured, _scaled_up

pytestmark = pytest.mark.filterwarnings("ignore:read_binary is deprecated:DeprecationWarning")


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
