"""What the chart promises beyond schema validity, network policies: deny by default, allow
explicitly, and a switch to turn them off."""

from __future__ import annotations

import pytest

from .conftest import (
    DB_CLIENT,
    SERVICES,
    find,
    objects,
    selects,
)

# --- network policies -------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["default", "production", "full"])
def test_network_policies_deny_by_default_and_allow_explicitly(profile, manifests):
    objs = objects(manifests, profile)
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    deny = find(objs, "NetworkPolicy", "taskplane-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"]
    assert "egress" not in deny["spec"]
    egress = find(objs, "NetworkPolicy", "taskplane-allow-egress")["spec"]["egress"]
    dns = egress[0]
    assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kube-system"
    }
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert {"port": 8001, "endPort": 8004, "protocol": "TCP"} in egress[1]["ports"]
    otlp_ports = {p["port"] for rule in egress[2:] for p in rule["ports"]}
    assert 4318 in otlp_ports
    db = find(objs, "NetworkPolicy", "taskplane-allow-database")
    assert db["spec"]["podSelector"]["matchLabels"] == DB_CLIENT
    assert db["spec"]["egress"][0]["ports"] == [{"port": 5432, "protocol": "TCP"}]

    pods = []
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet", "Job"):
            pods.append((o["metadata"]["name"], o["spec"]["template"]["metadata"]["labels"], o))
        elif o["kind"] == "Pod":
            pods.append((o["metadata"]["name"], o["metadata"]["labels"], o))
    for name, labels, obj in pods:
        assert selects(deny["spec"]["podSelector"], labels), f"{name} escapes default deny"
        if obj["kind"] in ("Deployment", "StatefulSet"):
            ingress = [
                p
                for p in policies
                if p is not deny
                and "Ingress" in p["spec"]["policyTypes"]
                and selects(p["spec"]["podSelector"], labels)
                and p["spec"].get("ingress")
            ]
            assert ingress, f"{name}: no ingress allowed at all"
        if any(c.get("name") == "migrate" for c in _containers(obj)) or obj["kind"] == "Job":
            assert labels.items() >= DB_CLIENT.items(), f"{name} runs migrations: DB egress"
    for svc in SERVICES:
        np_ = find(objs, "NetworkPolicy", f"taskplane-{svc}")
        ports = [p["port"] for rule in np_["spec"]["ingress"] for p in rule["ports"]]
        assert "http" in ports
        froms = [f for rule in np_["spec"]["ingress"] for f in rule["from"]]
        assert {"app.kubernetes.io/name": "taskplane-worker"} in [
            f.get("podSelector", {}).get("matchLabels") for f in froms
        ]
        if profile != "minimal":
            scrape = [
                f
                for f in froms
                if f.get("namespaceSelector", {}).get("matchLabels")
                == {"kubernetes.io/metadata.name": "monitoring"}
            ]
            assert scrape, f"{svc}: Prometheus namespace may not scrape"
    op = find(objs, "NetworkPolicy", "taskplane-operator")
    assert {p["port"] for p in op["spec"]["egress"][0]["ports"]} == {443, 6443}
    workers = find(objs, "NetworkPolicy", "taskplane-workers")
    assert workers["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "taskplane-worker"
    }
    assert any(p["port"] == 9100 for r in workers["spec"]["ingress"] for p in r["ports"])
    # Workers reach the task-service and, to exchange their service token, the auth-service.
    reach = {
        (peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"], port["port"])
        for rule in workers["spec"]["egress"]
        for peer in rule.get("to", [])
        if "podSelector" in peer and "namespaceSelector" not in peer
        for port in rule["ports"]
    }
    assert {("task-service", 8003), ("auth-service", 8001)} <= reach


def _containers(obj):
    spec = obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]
    return spec["containers"] + spec.get("initContainers", [])


def test_network_policies_can_be_switched_off(render):
    out = render({"global": {"networkPolicy": {"enabled": False}}})
    assert "kind: NetworkPolicy" not in "".join(out.values())
