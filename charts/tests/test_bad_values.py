"""Invalid values fail at render time with a message that names the offending key."""

from __future__ import annotations

import copy
from pathlib import Path

import helm_python as helm
import pytest
import yaml

PRODUCTION = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "taskplane/examples/production-values.yaml").read_text()
)


CASES = {
    # wrong types
    "replicas-string": (
        {"task-service": {"replicaCount": "two"}},
        ["task-service", "/replicaCount", "string"],
    ),
    "flag-string": (
        {"global": {"networkPolicy": {"enabled": "yes"}}},
        ["/global/networkPolicy/enabled"],
    ),
    "env-list": ({"user-service": {"env": ["A=1"]}}, ["user-service", "/env"]),
    "environment-enum": ({"global": {"environment": "staging"}}, ["/global/environment"]),
    # unknown keys in our charts
    # a key $defs/component does not define: the schema names its path
    "unknown-component-key": (
        {"task-service": {"replicas": 2}},
        ["at '/task-service/replicas'"],
    ),
    "operator-only-key-on-a-service": (
        {"task-service": {"watchNamespaces": ["a"]}},
        ["at '/task-service/watchNamespaces'"],
    ),
    "unknown-component-defaults-key": (
        {"componentDefaults": {"replicas": 2}},
        ["at '/componentDefaults/replicas'"],
    ),
    "component-defaults-is-no-component": (
        {"componentDefaults": {"enabled": False}},
        ["/componentDefaults"],
    ),
    "component-defaults-wrong-type": (
        {"componentDefaults": {"autoscaling": {"enabled": "yes"}}},
        ["/componentDefaults/autoscaling/enabled"],
    ),
    "unknown-nested-key": (
        {"auth-service": {"autoscaling": {"max": 3}}},
        ["auth-service", "/autoscaling", "'max' not allowed"],
    ),
    "unknown-worker-key": (
        {"worker": {"networkPolicy": {"egress": []}}},
        ["worker", "/networkPolicy", "'egress' not allowed"],
    ),
    "worker-token-is-gone": (
        {"worker": {"token": {"value": "tps_x"}}},
        ["worker", "'token' not allowed"],
    ),
    "unknown-umbrella-key": ({"monitoring": {"rulez": {}}}, ["/monitoring", "'rulez' not allowed"]),
    "unknown-global-key": (
        {"global": {"tracing": {"endpoint": "x"}}},
        ["/global/tracing", "'endpoint' not allowed"],
    ),
    # out of range
    "replicas-negative": (
        {"task-service": {"replicaCount": -1}},
        ["task-service", "/replicaCount", "minimum"],
    ),
    "operator-two-replicas": (
        {"operator": {"replicaCount": 2}},
        ["operator", "/replicaCount", "maximum"],
    ),
    "uid-below-10000": (
        {"global": {"podSecurity": {"runAsUser": 1000}}},
        ["/global/podSecurity/runAsUser", "minimum"],
    ),
    "hpa-min-above-max": (
        {"task-service": {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}},
        ["task-service.autoscaling.minReplicas"],
    ),
    "serviceaccount-token-over-an-hour": (
        {"global": {"auth": {"kubernetes": {"tokenExpirationSeconds": 7200}}}},
        ["/global/auth/kubernetes/tokenExpirationSeconds", "maximum"],
    ),
    "serviceaccount-token-mode": (
        {"global": {"auth": {"kubernetes": {"mode": "webhook"}}}},
        ["/global/auth/kubernetes/mode"],
    ),
    # contract violations caught by templates
    "auth-disabled": (
        {"task-service": {"env": {"TASKPLANE_AUTH_DISABLED": "true"}}},
        ["task-service.env.TASKPLANE_AUTH_DISABLED"],
    ),
    "no-database": (
        {"postgresql": {"enabled": False}},
        ["global.database.external.existingSecret"],
    ),
    "component-without-settings": (
        {
            "components": {
                "extra": {"module": "extra", "ports": {"http": 8009}, "metricsPortName": "http"}
            }
        },
        ["components.extra needs its settings section extra"],
    ),
    "two-databases": (
        {"global": {"database": {"external": {"existingSecret": "db"}}}},
        ["postgresql.enabled", "global.database.external.existingSecret"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_values_fail_naming_the_key(case, render):
    values, needles = CASES[case]
    with pytest.raises((helm.HelmValuesError, helm.HelmRenderError)) as info:
        render(values)
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{case}: {needle!r} not in {message!r}"


@pytest.mark.parametrize(
    ("key", "needle"),
    [
        (
            "cursor-secret",
            "global.secrets.values.cursor-secret is required when global.environment=production",
        ),
        ("auth-key-encryption-key", "global.secrets.values.auth-key-encryption-key is required"),
        (
            "auth-bootstrap-admin-password",
            "global.secrets.values.auth-bootstrap-admin-password is required",
        ),
    ],
)
def test_production_refuses_missing_secrets(key, needle, render):
    values = copy.deepcopy(PRODUCTION)
    del values["global"]["secrets"]["values"][key]
    with pytest.raises(helm.HelmRenderError, match=needle.replace(".", r"\.")):
        render(values)
    # the same values render once the secret comes from a Secret the operator manages
    values["global"]["secrets"]["existingSecret"] = "taskplane-platform"
    out = render(values)
    assert "name: taskplane-platform" in out["taskplane/templates/components.yaml"]


def test_production_refuses_a_missing_database(render):
    values = copy.deepcopy(PRODUCTION)
    values["global"]["database"]["external"]["existingSecret"] = ""
    values["postgresql"]["enabled"] = True
    with pytest.raises(helm.HelmRenderError, match=r"postgresql\.enabled must be false"):
        render(values)
    values["postgresql"]["enabled"] = False
    with pytest.raises(
        helm.HelmRenderError, match=r"global\.database\.external\.existingSecret is required"
    ):
        render(values)


def test_production_profile_itself_renders(render):
    assert render(copy.deepcopy(PRODUCTION))
