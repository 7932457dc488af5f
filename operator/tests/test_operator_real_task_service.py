"""End to end with the real task-service: the operator process (python -m
taskplane_operator) against kmock's Kubernetes emulator and ``python -m task_service
serve`` on PostgreSQL, authentication on.

The operator holds a service token (``tps_…``, scope ``queues:admin``) that it exchanges
for an access token at TASKPLANE_AUTH_URL; queue depth comes from real tasks, enqueued by
a member and leased and completed with a ``queues:work`` token, exactly as producers and
workers do. Every TaskQueue polls each second and stabilizes scale-down over 3 s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from taskplane_testing.kube import Kube, Queues, condition, gone, marked_for_deletion, tq_path
from taskplane_testing.operator import OperatorProcess, start_operator
from taskplane_testing.task_service import RealTaskService
from taskplane_testing.waiting import POLL_S, WaitFor

REGISTERED = (
    "max_attempts",
    "visibility_timeout_s",
    "backoff_base_s",
    "backoff_max_s",
    "paused",
    "rate_limit_per_s",
    "max_in_flight",
)

pytestmark = pytest.mark.filterwarnings("ignore:read_binary is deprecated:DeprecationWarning")

WINDOW_S = 3


@pytest.fixture(scope="module")
async def operator_on_real_service(
    kube: Kube,
    real_task_service: RealTaskService,
    kubeconfig: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[OperatorProcess]:
    async with start_operator(
        kubeconfig,
        tmp_path_factory.mktemp("operator-real"),
        api_url=real_task_service.url,
        token=real_task_service.token,
        auth_url=real_task_service.auth.url,
    ) as operator:
        yield operator


@pytest.fixture
async def queues(
    kube: Kube, operator_on_real_service: OperatorProcess, wait_for: WaitFor
) -> AsyncIterator[Queues]:
    helper = Queues(kube, wait_for, poll_s=POLL_S, window_s=WINDOW_S)
    yield helper
    for name in helper.created:  # Retain (the default) unless a test drained it already
        await kube.delete(tq_path(helper.ns, name))
    process = operator_on_real_service
    assert process.process.returncode is None, process.log()[-4000:]


async def registered(
    service: RealTaskService, queue: str, **expected: Any
) -> dict[str, Any] | None:
    """The queue's config once the task-service reports ``expected`` in it."""
    config = await service.queue_config(queue)
    if config is None or any(config[key] != value for key, value in expected.items()):
        return None
    return config


async def test_create_registers_the_queue_config_with_the_exchanged_token(
    queues: Queues, real_task_service: RealTaskService
) -> None:
    await queues.create(
        "billing",
        visibilityTimeoutSeconds=90,
        retry={"maxAttempts": 7, "backoffBaseSeconds": 3, "backoffMaxSeconds": 120},
        rateLimitPerSecond=12.5,
        maxInFlight=40,
    )
    queue = queues.queue("billing")
    config = await queues.wait_for(lambda: real_task_service.queue_config(queue))
    # What the operator sets; retention keeps the task-service's defaults.
    assert {key: config[key] for key in REGISTERED} == {
        "max_attempts": 7,
        "visibility_timeout_s": 90,
        "backoff_base_s": 3,
        "backoff_max_s": 120,
        "paused": False,
        "rate_limit_per_s": 12.5,
        "max_in_flight": 40,
    }
    # Only the service token was handed to the operator; the task-service (which accepts
    # nothing but signed JWTs) took the PUT, so the exchange happened and worked.
    assert real_task_service.token in real_task_service.auth.exchanges
    ready = await queues.wait_condition("billing", "Ready", "True")
    assert ready["reason"] == "Idle"
    # Workers get both URLs: their tps_ token is exchanged at the same auth-service.
    deployment = await queues.deployment("billing")
    assert deployment is not None
    (worker,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in worker["env"]}
    assert env["TASKPLANE_API_URL"] == real_task_service.url
    assert env["TASKPLANE_AUTH_URL"] == real_task_service.auth.url
    assert condition(await queues.tq("billing"), "Degraded")["status"] == "False"

    # A spec change reaches the real queue: the PUT replaces the whole configuration.
    await queues.kube.patch_spec(queues.ns, "billing", {"rateLimitPerSecond": None})
    changed = await queues.wait_for(
        lambda: registered(real_task_service, queue, rate_limit_per_s=None)
    )
    assert changed["max_in_flight"] == 40


async def test_real_tasks_scale_up_within_a_poll_and_down_after_the_window(
    queues: Queues, real_task_service: RealTaskService
) -> None:
    queue = await _registered(queues, real_task_service, "reports")
    await queues.wait_condition("reports", "Ready", "True")
    assert await queues.replicas("reports") == 0

    # Scale from zero on the first task, then ceil(5 / 2) = 3.
    await real_task_service.enqueue(queue, 1)
    await queues.wait_replicas("reports", 1)
    await real_task_service.enqueue(queue, 4)
    await queues.wait_replicas("reports", 3)
    obj = await queues.tq("reports")
    assert obj is not None
    assert obj["status"]["available"] == 5

    # Leased tasks are still work: in flight counts like available.
    leases = await real_task_service.lease(queue, 5)
    assert len(leases) == 5
    in_flight = await queues.wait_for(lambda: _status_has(queues, "reports", inFlight=5))
    assert in_flight["status"]["available"] == 0
    assert await queues.replicas("reports") == 3

    # Done: the recommendation drops to 0 but holds for the stabilization window.
    await queues.pods_ready("reports", 3)  # the Deployment controller's report
    await real_task_service.complete(leases)
    stats = await real_task_service.queue(queue)
    assert stats is not None
    assert (stats["available"], stats["in_flight"], stats["completed_total"]) == (0, 0, 5)
    # A poll that read the queue just before the completions still recommends 2; the
    # next one sees the empty queue. Wait for that one, however slow the machine.
    held = await queues.wait_for(
        lambda: _condition_reason(
            queues, "reports", "Scaling", "ScaleDownStabilizing", "recommends 0 replica(s)"
        ),
    )
    assert held["status"] == "False"
    assert "recommends 0 replica(s), held at 3" in held["message"]
    assert await queues.replicas("reports") == 3
    await queues.wait_replicas("reports", 0)
    reasons = await queues.event_reasons("reports")
    assert {"ScaledUp", "ScaledDown"} <= set(reasons)


async def test_pause_scales_to_zero_and_the_real_queue_grants_no_leases(
    queues: Queues, real_task_service: RealTaskService
) -> None:
    queue = await _registered(queues, real_task_service, "mail")
    await real_task_service.enqueue(queue, 4)
    await queues.wait_replicas("mail", 2)

    await queues.kube.patch_spec(queues.ns, "mail", {"paused": True})
    await queues.wait_replicas("mail", 0)  # an order: no window
    paused = await queues.wait_condition("mail", "Paused", "True")
    assert paused["reason"] == "PausedBySpec"
    await queues.wait_for(lambda: registered(real_task_service, queue, paused=True))
    assert await real_task_service.lease(queue, 4) == []  # the queue stopped leasing
    stats = await real_task_service.queue(queue)
    assert stats is not None
    assert (stats["available"], stats["in_flight"]) == (4, 0)  # nothing lost, nothing taken

    await queues.kube.patch_spec(queues.ns, "mail", {"paused": False})
    await queues.wait_for(lambda: registered(real_task_service, queue, paused=False))
    await queues.wait_replicas("mail", 2)
    leases = await real_task_service.lease(queue, 4)
    assert len(leases) == 4
    await real_task_service.complete(leases)


async def test_drain_holds_deletion_until_the_real_queue_is_empty(
    queues: Queues, real_task_service: RealTaskService, kube: Kube
) -> None:
    await queues.create("drainme", deletionPolicy="Drain")
    queue = queues.queue("drainme")
    await queues.wait_for(lambda: real_task_service.queue_config(queue))
    await real_task_service.enqueue(queue, 3)
    first = await real_task_service.lease(queue, 1)  # one in flight, two available
    await queues.wait_replicas("drainme", 2)

    await kube.delete(tq_path(queues.ns, "drainme"))
    await queues.wait_for(lambda: marked_for_deletion(queues, "drainme"))
    # Held for two polls with work left, workers kept running.
    for _ in range(int(2 * POLL_S / 0.25) + 2):
        assert await queues.tq("drainme") is not None, "deleted while tasks remained"
        assert (await queues.replicas("drainme") or 0) >= 1, "workers stopped mid-drain"
        await asyncio.sleep(0.25)

    # The workers' job, done here: finish the leased task, then the rest.
    await real_task_service.complete(first)
    assert await queues.tq("drainme") is not None, "deleted with two tasks available"
    rest = await real_task_service.lease(queue, 10)
    assert len(rest) == 2
    await real_task_service.complete(rest)
    await queues.wait_for(lambda: gone(queues, "drainme"))
    stats = await real_task_service.queue(queue)
    assert stats is not None  # Drain keeps the queue, now empty
    assert (stats["available"], stats["in_flight"], stats["completed_total"]) == (0, 0, 3)


async def _status_has(queues: Queues, name: str, **fields: Any) -> dict[str, Any] | None:
    obj = await queues.tq(name)
    status = (obj or {}).get("status") or {}
    return obj if all(status.get(k) == v for k, v in fields.items()) else None


async def _condition_reason(
    queues: Queues, name: str, type_: str, reason: str, message_part: str = ""
) -> dict[str, Any] | None:
    found = condition(await queues.tq(name), type_)
    matches = found.get("reason") == reason and message_part in found.get("message", "")
    return found if matches else None


async def _registered(queues: Queues, real_task_service: RealTaskService, name: str) -> str:
    """Create a TaskQueue and wait until the operator registered its queue; its name."""
    await queues.create(name)
    queue = queues.queue(name)
    await queues.wait_for(lambda: real_task_service.queue_config(queue))
    return queue
