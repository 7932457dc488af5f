"""Desired child manifests, as pure functions of spec and settings."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from taskplane_operator import desired
from taskplane_operator.model import InvalidSpecError, TaskQueueSpec, parse_spec
from taskplane_operator.settings import OperatorSettings

OWNER = {
    "apiVersion": "taskplane.io/v1alpha1",
    "kind": "TaskQueue",
    "metadata": {"name": "orders", "namespace": "shop", "uid": "u-1", "labels": {"team": "a"}},
}
SETTINGS = OperatorSettings(
    worker_image="reg/worker:1", api_url="http://task-service:8003", monitoring_enabled=False
)


def spec(**changes: Any) -> TaskQueueSpec:
    return parse_spec({"worker": {"handler": "builtin:echo"}, **changes})


def pod(deployment: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return result


def test_every_child_is_owned_and_labelled() -> None:
    objs = desired.children(
        OWNER, spec(), SETTINGS.model_copy(update={"monitoring_enabled": True}), 0
    )
    assert [o["kind"] for o in objs] == [
        "ServiceAccount",
        "Deployment",
        "PodDisruptionBudget",
        "PodMonitor",
    ]
    for obj in objs:
        assert obj["metadata"]["name"] == "orders-worker"
        assert obj["metadata"]["namespace"] == "shop"
        assert obj["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "taskplane.io/v1alpha1",
                "kind": "TaskQueue",
                "name": "orders",
                "uid": "u-1",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "taskplane-worker"
        assert labels["app.kubernetes.io/instance"] == "orders"
        assert labels["app.kubernetes.io/component"] == "worker"
        assert labels["app.kubernetes.io/managed-by"] == "taskplane-operator"
        assert labels["taskplane.io/queue"] == "shop.orders"
        assert labels["team"] == "a"  # the TaskQueue's own labels propagate (kopf.adopt)


def test_pod_monitor_only_when_monitoring_is_enabled() -> None:
    kinds = [o["kind"] for o in desired.children(OWNER, spec(), SETTINGS, 0)]
    assert "PodMonitor" not in kinds


def test_deployment_runs_the_worker_contract() -> None:
    deployment = desired.deployment(OWNER, spec(queueName="orders-v1"), SETTINGS, replicas=3)
    assert deployment["spec"]["replicas"] == 3
    (worker,) = pod(deployment)["containers"]
    assert worker["image"] == "reg/worker:1"
    assert worker["command"] == ["taskplane-worker"]
    assert worker["args"] == [
        "--queue",
        "orders-v1",
        "--handler",
        "builtin:echo",
        "--concurrency",
        "4",
    ]
    assert worker["ports"] == [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]
    for probe in ("livenessProbe", "readinessProbe"):
        assert worker[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert worker["env"][:2] == [
        {"name": "TASKPLANE_API_URL", "value": "http://task-service:8003"},
        {
            "name": "TASKPLANE_TOKEN_FILE",
            "value": "/var/run/secrets/taskplane/serviceaccount/token",
        },
    ]
    assert deployment["spec"]["selector"]["matchLabels"] == desired.selector_labels("orders")
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_workers_get_the_auth_url_for_their_serviceaccount_token() -> None:
    def env(settings: OperatorSettings) -> dict[str, Any]:
        (worker,) = pod(desired.deployment(OWNER, spec(), settings, 1))["containers"]
        return {item["name"]: item.get("value") for item in worker["env"]}

    assert "TASKPLANE_AUTH_URL" not in env(SETTINGS)
    with_auth = SETTINGS.model_copy(update={"auth_url": "http://auth-service:8001"})
    assert env(with_auth)["TASKPLANE_AUTH_URL"] == "http://auth-service:8001"
    own = with_auth.model_copy(update={"worker_auth_url": "http://auth.platform.svc:8001"})
    assert env(own)["TASKPLANE_AUTH_URL"] == "http://auth.platform.svc:8001"


def test_pod_is_restricted_with_writable_tmp_only() -> None:
    manifest = pod(desired.deployment(OWNER, spec(), SETTINGS, 0))
    assert manifest["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (worker,) = manifest["containers"]
    assert worker["securityContext"]["readOnlyRootFilesystem"] is True
    assert worker["securityContext"]["allowPrivilegeEscalation"] is False
    assert worker["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert worker["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp"},
        {
            "name": "taskplane-token",
            "mountPath": "/var/run/secrets/taskplane/serviceaccount",
            "readOnly": True,
        },
    ]
    assert manifest["volumes"][0]["emptyDir"]
    assert manifest["automountServiceAccountToken"] is False
    assert manifest["serviceAccountName"] == "orders-worker"


def test_the_worker_identity_is_a_projected_token_for_the_auth_service_only() -> None:
    settings = SETTINGS.model_copy(
        update={"worker_token_audience": "taskplane-prod", "worker_token_expiration_s": 1800}
    )
    volumes = pod(desired.deployment(OWNER, spec(), settings, 0))["volumes"]
    assert volumes[1] == {
        "name": "taskplane-token",
        "projected": {
            "sources": [
                {
                    "serviceAccountToken": {
                        "audience": "taskplane-prod",
                        "expirationSeconds": 1800,
                        "path": "token",
                    }
                }
            ]
        },
    }


def test_grace_period_covers_the_visibility_timeout() -> None:
    manifest = pod(desired.deployment(OWNER, spec(visibilityTimeoutSeconds=300), SETTINGS, 0))
    assert manifest["terminationGracePeriodSeconds"] == 300 + SETTINGS.grace_margin_s


def test_resources_default_and_override() -> None:
    (worker,) = pod(desired.deployment(OWNER, spec(), SETTINGS, 0))["containers"]
    assert worker["resources"] == desired.DEFAULT_RESOURCES
    custom = {"requests": {"cpu": "2"}, "limits": {"memory": "1Gi"}}
    (worker,) = pod(
        desired.deployment(
            OWNER, spec(worker={"handler": "builtin:noop", "resources": custom}), SETTINGS, 0
        )
    )["containers"]
    assert worker["resources"] == custom


def test_user_env_image_and_sidecars() -> None:
    sidecar = {
        "name": "handler",
        "image": "reg/handler:2",
        "securityContext": {"runAsUser": 20000},
    }
    worker_spec = {
        "handler": "http://localhost:8080/h",
        "image": "reg/custom:3",
        "imagePullPolicy": "Always",
        "env": [{"name": "MODE", "value": "fast"}],
        "extraContainers": [sidecar],
    }
    manifest = pod(desired.deployment(OWNER, spec(worker=worker_spec), SETTINGS, 0))
    worker, handler = manifest["containers"]
    assert (worker["image"], worker["imagePullPolicy"]) == ("reg/custom:3", "Always")
    assert worker["env"][-1] == {"name": "MODE", "value": "fast"}
    assert handler["securityContext"]["runAsUser"] == 20000  # the user's value wins
    assert handler["securityContext"]["capabilities"] == {"drop": ["ALL"]}  # our default fills in
    assert sidecar["securityContext"] == {"runAsUser": 20000}  # input not mutated


def test_concurrency_change_changes_the_pod_template() -> None:
    before = desired.deployment(OWNER, spec(), SETTINGS, 0)["spec"]["template"]
    after = desired.deployment(
        OWNER, spec(worker={"handler": "builtin:echo", "concurrency": 9}), SETTINGS, 0
    )["spec"]["template"]
    assert before != after
    assert after["spec"]["containers"][0]["args"][-1] == "9"


def test_pdb_allows_one_eviction_at_a_time() -> None:
    pdb = desired.pod_disruption_budget(OWNER, spec())
    assert pdb["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": desired.selector_labels("orders")},
    }


def test_pod_monitor_scrapes_the_metrics_port() -> None:
    monitor = desired.pod_monitor(OWNER, spec())
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["selector"]["matchLabels"] == desired.selector_labels("orders")


@pytest.mark.parametrize(
    ("queue", "expected"),
    [
        ("shop.orders", "shop.orders"),
        ("a" * 63, "a" * 63),
    ],
)
def test_label_value_keeps_valid_values(queue: str, expected: str) -> None:
    assert desired.label_value(queue) == expected


def test_label_value_hashes_long_values_validly() -> None:
    long_queue = "team-" + "x" * 100 + ".orders"
    value = desired.label_value(long_queue)
    assert len(value) <= 63
    assert value == desired.label_value(long_queue)  # stable
    assert value != desired.label_value(long_queue + "2")  # distinct
    assert value[0].isalnum()
    assert value[-1].isalnum()


def test_selector_string_for_the_scale_subresource() -> None:
    assert desired.selector_string("orders") == (
        "app.kubernetes.io/instance=orders,app.kubernetes.io/name=taskplane-worker"
    )


def test_drift_names_what_changed_and_ignores_what_others_added() -> None:
    declared = {
        "metadata": {"labels": {"app": "w"}},
        "spec": {
            "containers": [{"name": "worker", "image": "w:1", "args": ["--queue", "q"]}],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }
    live = copy.deepcopy(declared)
    # Others' additions: an annotation, a server default, an injected sidecar.
    live["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": "now"}
    live["spec"]["containers"][0]["terminationMessagePath"] = "/dev/termination-log"
    live["spec"]["containers"].insert(0, {"name": "istio-proxy", "image": "proxy"})
    assert desired.drift(declared, live) == []

    live["spec"]["containers"][1]["image"] = "evil:1"
    live["spec"]["containers"][1]["args"] = ["--queue", "q", "--extra"]
    live["metadata"]["labels"].pop("app")
    del live["spec"]["volumes"]
    assert desired.drift(declared, live) == [
        "metadata.labels.app",
        "spec.containers[worker].image",
        "spec.containers[worker].args",
        "spec.volumes",
    ]
    assert desired.drift(declared, None) == ["."]


@pytest.mark.parametrize(
    ("scaling", "handler", "message"),
    [
        (
            {"maxReplicas": 0},
            "builtin:noop",
            "spec.scaling.maxReplicas: Input should be greater than or equal to 1",
        ),
        (
            {"minReplicas": 5, "maxReplicas": 3},
            "builtin:noop",
            "spec.scaling: minReplicas (5) must not exceed maxReplicas (3)",
        ),
        ({}, "ftp://files/x", "spec.worker.handler: handler 'ftp://files/x' is not"),
    ],
)
def test_specs_the_operator_cannot_act_on_name_the_field(
    scaling: dict[str, Any], handler: str, message: str
) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        parse_spec({"worker": {"handler": handler}, "scaling": scaling})
    assert str(caught.value).startswith(message)
