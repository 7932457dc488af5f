"""Kubernetes for the operator tests: kmock's KubernetesEmulator serving the CRD, a
kubectl-like client that does the API server's bookkeeping kmock leaves out (admission,
generation), and ``Queues``, which creates TaskQueues in a fresh namespace.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import kmock
import yaml

from taskplane_testing.crd import Admission
from taskplane_testing.waiting import BOUND_S, WaitFor

TQ_PATH = "/apis/taskplane.io/v1alpha1/namespaces/{ns}/taskqueues"


def resource_info(crd: Mapping[str, Any]) -> kmock.ResourceInfo:
    """Discovery information for the custom resource, taken from the CRD itself."""
    names = crd["spec"]["names"]
    version = crd["spec"]["versions"][0]
    return kmock.ResourceInfo(
        kind=names["kind"],
        singular=names["singular"],
        namespaced=crd["spec"]["scope"] == "Namespaced",
        shortnames=set(names.get("shortNames", [])),
        categories=set(names.get("categories", [])),
        subresources=set(version.get("subresources", {})),
        verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
    )


@dataclass
class Kube:
    """What kubectl plus the API server's bookkeeping would do, over HTTP to kmock."""

    emulator: kmock.KubernetesEmulator
    http: httpx.AsyncClient
    admit: Admission

    async def get(self, path: str) -> dict[str, Any] | None:
        response = await self.http.get(path)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def create_tq(self, obj: dict[str, Any], *, admit: bool = True) -> dict[str, Any]:
        obj = self.admit(obj) if admit else copy.deepcopy(obj)
        obj["metadata"].update(
            uid=str(uuid.uuid4()),
            generation=1,
            resourceVersion="1",  # kmock keeps it; kopf's JSON patches test for it
            creationTimestamp=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        response = await self.http.post(TQ_PATH.format(ns=obj["metadata"]["namespace"]), json=obj)
        response.raise_for_status()
        return obj

    async def patch_spec(
        self, ns: str, name: str, changes: Mapping[str, Any], *, admit: bool = True
    ) -> dict[str, Any]:
        """A spec change: admission of the merged object (unless it slipped past, as with
        an older CRD), then generation + 1."""
        path = f"{TQ_PATH.format(ns=ns)}/{name}"
        old = await self.get(path)
        assert old is not None
        new = copy.deepcopy(old)
        merge(new["spec"], changes)
        if admit:
            new = self.admit(new, old)
        patch = {
            "spec": new["spec"],
            "metadata": {"generation": int(old["metadata"].get("generation", 1)) + 1},
        }
        response = await self.http.patch(
            path, json=patch, headers={"Content-Type": "application/merge-patch+json"}
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def delete(self, path: str) -> None:
        response = await self.http.delete(path)
        if response.status_code != 404:
            response.raise_for_status()

    async def events(self, ns: str) -> list[dict[str, Any]]:
        """Events as posted: kmock keeps one object per name and ignores generateName,
        so the request log, not the stored objects, holds every Event kopf sent."""
        return [request.data for request in self.emulator[f"post /api/v1/namespaces/{ns}/events"]]


def merge(target: dict[str, Any], changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


@contextlib.asynccontextmanager
async def run_emulator(crd: dict[str, Any], admit: Admission) -> AsyncIterator[Kube]:
    """The emulator on a free port, knowing our CRD and PodMonitors."""
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        emulator.resources.load_bundled()
        group, version = crd["spec"]["group"], crd["spec"]["versions"][0]["name"]
        emulator.resources[f"{group}/{version}/{crd['spec']['names']['plural']}"] = resource_info(
            crd
        )
        emulator.resources["monitoring.coreos.com/v1/podmonitors"] = kmock.ResourceInfo(
            kind="PodMonitor", singular="podmonitor", namespaced=True, verbs={"get", "create"}
        )
        async with httpx.AsyncClient(base_url=str(server.url).rstrip("/"), timeout=10) as http:
            response = await http.post(
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd
            )
            response.raise_for_status()
            yield Kube(emulator, http, admit)


def write_kubeconfig(path: Path, kube: Kube) -> Path:
    """A kubeconfig pointing at the emulator, as the operator process reads it."""
    server = str(kube.http.base_url).rstrip("/")
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "kmock",
                "clusters": [{"name": "kmock", "cluster": {"server": server}}],
                "users": [{"name": "operator", "user": {"token": "kmock-token"}}],
                "contexts": [
                    {"name": "kmock", "context": {"cluster": "kmock", "user": "operator"}}
                ],
            }
        )
    )
    return path
    return path


def tq_path(ns: str, name: str) -> str:
    return f"/apis/taskplane.io/v1alpha1/namespaces/{ns}/taskqueues/{name}"


def child_path(kind: str, ns: str, name: str) -> str:
    prefix = {
        "deployments": "/apis/apps/v1",
        "serviceaccounts": "/api/v1",
        "poddisruptionbudgets": "/apis/policy/v1",
        "podmonitors": "/apis/monitoring.coreos.com/v1",
    }[kind]
    return f"{prefix}/namespaces/{ns}/{kind}/{name}-worker"


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for item in ((obj or {}).get("status") or {}).get("conditions", []):
        if item["type"] == type_:
            return dict(item)
    return {}


class Queues:
    """Creates TaskQueues in a fresh namespace (its fixture deletes them after the test);
    every one polls each ``poll_s`` and stabilizes scale-down over ``window_s``."""

    def __init__(
        self, kube: Kube, wait_for: WaitFor, *, poll_s: float = 1.0, window_s: int = 3
    ) -> None:
        self.kube, self.wait_for = kube, wait_for
        self.poll_s, self.window_s = poll_s, window_s
        self.ns = f"e2e-{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []

    async def create(self, name: str, *, admit: bool = True, **spec: Any) -> dict[str, Any]:
        body = {
            "worker": {"handler": "builtin:noop"},
            "scaling": {
                "minReplicas": 0,
                "maxReplicas": 5,
                "targetTasksPerReplica": 2,
                "pollIntervalSeconds": int(self.poll_s),
                "scaleDownStabilizationSeconds": self.window_s,
            },
            **spec,
        }
        obj = {
            "apiVersion": "taskplane.io/v1alpha1",
            "kind": "TaskQueue",
            "metadata": {"name": name, "namespace": self.ns},
            "spec": body,
        }
        self.created.append(name)
        return await self.kube.create_tq(obj, admit=admit)

    def queue(self, name: str) -> str:
        return f"{self.ns}.{name}"

    async def tq(self, name: str) -> dict[str, Any] | None:
        return await self.kube.get(tq_path(self.ns, name))

    async def deployment(self, name: str) -> dict[str, Any] | None:
        return await self.kube.get(child_path("deployments", self.ns, name))

    async def replicas(self, name: str) -> int | None:
        deployment = await self.deployment(name)
        return None if deployment is None else int(deployment["spec"]["replicas"])

    async def wait_replicas(self, name: str, expected: int, within: float = BOUND_S) -> float:
        """Seconds until the worker Deployment asks for ``expected`` replicas."""
        started = time.monotonic()

        async def reached() -> bool:
            return await self.replicas(name) == expected

        await self.wait_for(reached, within=within, interval=0.05)
        return time.monotonic() - started

    async def wait_condition(
        self,
        name: str,
        type_: str,
        status: str,
        within: float = BOUND_S,
        reason: str | None = None,
    ) -> dict[str, Any]:
        async def matches() -> dict[str, Any] | None:
            found = condition(await self.tq(name), type_)
            if found.get("status") != status or reason not in (None, found.get("reason")):
                return None
            return found

        result: dict[str, Any] = await self.wait_for(matches, within=within)
        return result

    async def handled(self, names: list[str]) -> bool:
        """kopf finished the creation handlers of all ``names`` (its last-handled mark)."""
        objs = [await self.tq(name) for name in names]
        return all(
            obj
            and "taskplane.io/last-handled-configuration" in obj["metadata"].get("annotations", {})
            for obj in objs
        )

    async def pods_ready(self, name: str, count: int) -> None:
        """What the Deployment controller and kubelet would report (kmock has neither)."""
        response = await self.kube.http.patch(
            child_path("deployments", self.ns, name) + "/status",
            json={"status": {"replicas": count, "readyReplicas": count}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        response.raise_for_status()

    async def event_reasons(self, name: str) -> list[str]:
        return [
            event["reason"]
            for event in await self.kube.events(self.ns)
            if event.get("involvedObject", {}).get("name") == name
        ]


async def marked_for_deletion(queues: Queues, name: str) -> bool:
    obj = await queues.tq(name)
    return bool(obj and obj["metadata"].get("deletionTimestamp"))


async def gone(queues: Queues, name: str) -> bool:
    return await queues.tq(name) is None
