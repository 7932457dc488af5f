"""The operator's own Kubernetes client against kmock's emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import kmock
import kopf
import pytest

from taskplane_operator.kube import KubeApiError, KubeClient, is_subset, path_for, without

pytestmark = pytest.mark.filterwarnings("ignore:read_binary is deprecated:DeprecationWarning")


def test_is_subset_ignores_server_added_fields() -> None:
    desired = {"spec": {"containers": [{"name": "w", "ports": [{"containerPort": 9100}]}]}}
    current = {
        "metadata": {"resourceVersion": "7"},
        "spec": {
            "containers": [
                {"name": "w", "ports": [{"containerPort": 9100, "protocol": "TCP"}], "tty": False}
            ]
        },
    }
    assert is_subset(desired, current)
    assert not is_subset({"spec": {"containers": []}}, current)  # list length matters
    assert not is_subset({"spec": {"containers": [{"name": "x"}]}}, current)
    assert not is_subset({"spec": {"paused": True}}, current)


def test_without_drops_fields_and_copies() -> None:
    obj = {"spec": {"replicas": 3, "template": {}}, "kind": "Deployment"}
    stripped = without(obj, [("spec", "replicas"), ("status", "absent")])
    assert stripped == {"spec": {"template": {}}, "kind": "Deployment"}
    assert obj["spec"]["replicas"] == 3


def test_paths() -> None:
    assert path_for("v1", "ServiceAccount", "ns") == "/api/v1/namespaces/ns/serviceaccounts"
    assert (
        path_for("taskplane.io/v1alpha1", "TaskQueue", "ns", "q", "status")
        == "/apis/taskplane.io/v1alpha1/namespaces/ns/taskqueues/q/status"
    )


class Logins:
    """A login source that hands out a new token each time (rotation)."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.count = 0

    def __call__(self) -> kopf.ConnectionInfo:
        self.count += 1
        return kopf.ConnectionInfo(server=self.server, token=f"token-{self.count}")


@pytest.fixture
def logins(kmock: kmock.KubernetesEmulator) -> Logins:
    kmock.resources.load_bundled()
    return Logins(str(kmock.url))


@pytest.fixture
async def client(logins: Logins) -> AsyncIterator[KubeClient]:
    kube = KubeClient(logins)
    yield kube
    await kube.aclose()


def deployment(replicas: int, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "ns"},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"image": image}]}}},
    }


async def test_ensure_creates_skips_and_patches(client: KubeClient) -> None:
    unmanaged = [("spec", "replicas")]
    result, created = await client.ensure(deployment(1, "a"), unmanaged)
    assert (result, created["spec"]["replicas"]) == ("created", 1)

    path = path_for("apps/v1", "Deployment", "ns", "d")
    await client.merge_patch(path, {"spec": {"replicas": 4}})  # the autoscaler's change
    result, _ = await client.ensure(deployment(1, "a"), unmanaged)
    assert result == "unchanged"

    result, patched = await client.ensure(deployment(1, "b"), unmanaged)
    assert result == "patched"
    assert patched["spec"]["template"]["spec"]["containers"] == [{"image": "b"}]
    assert patched["spec"]["replicas"] == 4  # replicas stay the autoscaler's


async def test_get_missing_is_none_and_delete_is_idempotent(client: KubeClient) -> None:
    path = path_for("v1", "ServiceAccount", "ns", "nobody")
    assert await client.get(path) is None
    await client.delete(path)


async def test_errors_carry_status_and_message(client: KubeClient) -> None:
    with pytest.raises(KubeApiError) as caught:
        await client.merge_patch(path_for("v1", "ServiceAccount", "ns", "nobody"), {"x": 1})
    assert caught.value.status == 404
    assert "HTTP 404" in caught.value.message


async def test_a_401_logs_in_again_once(
    client: KubeClient, logins: Logins, kmock: kmock.KubernetesEmulator
) -> None:
    path = path_for("v1", "ServiceAccount", "ns", "sa")
    kmock[f"get {path}"][:1] << 401
    assert await client.get(path) is None  # 401, new login, then the real 404
    assert logins.count == 2
    assert [r.headers["Authorization"] for r in kmock[f"get {path}"]] == [
        "Bearer token-1",
        "Bearer token-2",
    ]
