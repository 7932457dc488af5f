"""End to end: the real operator process (python -m taskplane_operator) against kmock's
Kubernetes emulator serving our CRD and the task-service fixture, over real HTTP; creation and
configuration: children, status, service accounts, queue registration, pod-template
rolls, and the RBAC the operator's requests stay within.

Every TaskQueue here polls each second; the emulator has no controllers, so a test that
needs ready pods writes the Deployment's status itself, as the Deployment controller would.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from taskplane_testing.kube import (
    Kube,
    Queues,
    child_path,
    gone,
    tq_path,
)
from taskplane_testing.task_service import FakeTaskService

from .conftest import OperatorCalls, _configured, _scaled_up

pytestmark = pytest.mark.filterwarnings("ignore:read_binary is deprecated:DeprecationWarning")


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


# The Kubernetes API calls the operator makes, as verbs per resource; operator/README.md
# lists the same under "RBAC".
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


def test_operator_calls_stay_within_documented_rbac(operator_calls: OperatorCalls) -> None:
    """Runs after every test that uses an emulator (the operator tests' conftest moves it
    there), over every request the operator sent in every module of the session."""
    by_module = operator_calls.by_module()
    assert by_module, "no operator requests recorded"
    used: dict[tuple[str, str], set[str]] = {}
    for module, calls in by_module.items():
        assert calls, f"no operator requests recorded in {module}"
        for resource, verbs in calls.items():
            assert verbs <= RBAC_USED.get(resource, set()), (module, resource, verbs)
            used.setdefault(resource, set()).update(verbs)
    assert used[("apps", "deployments")] == {"get", "create", "patch"}
