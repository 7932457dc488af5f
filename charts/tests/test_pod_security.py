"""Walk every Pod spec the chart renders (Deployments, StatefulSets, Jobs, test Pods) in
every profile: Pod Security "restricted" plus a read-only root filesystem, UID >= 10000,
requests and limits, probes on long-running containers, a writable /tmp."""

from __future__ import annotations

from typing import Any

import pytest

PROFILES = ["default", "minimal", "full", "production", "kind-dev"]
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet"}


def pod_specs(docs) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for _, obj in docs:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind == "Pod":
            out.append((kind, name, obj["spec"]))
        elif kind in LONG_RUNNING or kind == "Job":
            out.append((kind, name, obj["spec"]["template"]["spec"]))
        elif kind == "CronJob":
            out.append((kind, name, obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
    return out


@pytest.mark.parametrize("profile", PROFILES)
def test_every_pod_is_restricted_and_sized(profile, manifests):
    specs = pod_specs(manifests[profile])
    kinds = {kind for kind, _, _ in specs}
    assert {"Deployment", "Pod"} <= kinds
    for kind, name, spec in specs:
        where = f"{profile}: {kind}/{name}"
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True, where
        assert psc["runAsUser"] >= 10000, where
        assert psc["runAsGroup"] >= 10000, where
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", where
        assert not spec.get("hostNetwork")
        assert not spec.get("hostPID")
        assert not spec.get("hostIPC")
        assert spec.get("automountServiceAccountToken") is not None, f"{where}: explicit automount"
        if kind in ("Job", "Pod"):
            assert spec["restartPolicy"] == "Never", where
        for volume in spec.get("volumes", []):
            assert "hostPath" not in volume, where
        containers = spec["containers"] + spec.get("initContainers", [])
        for c in containers:
            cw = f"{where} container {c['name']}"
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, cw
            assert sc["readOnlyRootFilesystem"] is True, cw
            assert sc["capabilities"]["drop"] == ["ALL"], cw
            assert not sc["capabilities"].get("add"), cw
            assert sc.get("privileged") is False, cw
            assert sc["runAsNonRoot"] is True, cw
            assert sc["runAsUser"] >= 10000, cw
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", cw
            res = c["resources"]
            for section in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(res[section]), f"{cw}: {section}"
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{cw}: needs an emptyDir /tmp on a read-only root"
            assert ":" in c["image"], cw
            assert not c["image"].endswith(":latest"), cw
        if kind in LONG_RUNNING:
            for c in spec["containers"]:
                for probe in ("livenessProbe", "readinessProbe"):
                    assert probe in c, f"{where} container {c['name']} lacks {probe}"


@pytest.mark.parametrize("profile", PROFILES)
def test_workloads_have_pdb_spread_and_hpa(profile, manifests):
    objs = [o for _, o in manifests[profile]]
    pdb_selectors = [
        o["spec"]["selector"]["matchLabels"] for o in objs if o["kind"] == "PodDisruptionBudget"
    ]
    hpa_targets = {
        o["spec"]["scaleTargetRef"]["name"] for o in objs if o["kind"] == "HorizontalPodAutoscaler"
    }
    for o in objs:
        if o["kind"] not in LONG_RUNNING:
            continue
        labels = o["spec"]["template"]["metadata"]["labels"]
        assert any(sel.items() <= labels.items() for sel in pdb_selectors), o["metadata"]["name"]
        if o["kind"] == "Deployment" and o["metadata"]["name"] != "taskplane-operator":
            assert o["spec"]["template"]["spec"]["topologySpreadConstraints"]
            # the console keeps its sessions in memory: one replica, no HPA
            if o["metadata"]["name"] == "taskplane-console":
                assert o["spec"]["replicas"] == 1
                assert "taskplane-console" not in hpa_targets
            elif profile in ("default", "full", "production"):
                # stateless services autoscale; the Deployment leaves replicas to the HPA
                assert o["metadata"]["name"] in hpa_targets
                assert "replicas" not in o["spec"]
    operator = next(
        o
        for o in objs
        if o["metadata"]["name"] == "taskplane-operator" and o["kind"] == "Deployment"
    )
    assert operator["spec"]["replicas"] == 1
    assert operator["spec"]["strategy"]["type"] == "Recreate"
    assert "taskplane-operator" not in hpa_targets
