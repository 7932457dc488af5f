"""The contract between Terraform's platform module and the taskplane chart.

The platform module renders `taskplane-values.yaml.tftpl` with templatefile() and
passes it to helm_release.taskplane. Terraform cannot run here, so this test does
templatefile()'s job for the only interpolation the template may use,
`${jsonencode(<variable>)}`, with representative dev-, prod- and no-observability
inputs, and renders the real chart (charts/taskplane) with the real Helm engine: the
chart's strict schema rejects any key it does not know, and its production checks
reject missing secrets. Then it checks what the values are for: ECR image names,
the database Secret, the platform Secret built by External Secrets (rendered from the
module's own local chart), workload identity against the EKS issuer and the environment.
The template side is in test_platform_template.py; what both share is in conftest.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
import yaml

from taskplane_testing.terraform import HclDoc, attr, doc

from .conftest import (
    CASES,
    CHART,
    EKS_ISSUER,
    NAMESPACE,
    RELEASE,
    SECRET_ARN,
    SECRETS_CHART,
    Inputs,
    render_chart,
    render_template,
    template_inputs,
)

# --------------------------------------------------------------------------- helpers


def pod_specs(objects: Iterable[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        kind, spec = obj["kind"], obj.get("spec", {})
        where = f"{kind}/{obj['metadata']['name']}"
        if kind == "Pod":
            yield where, spec
        elif kind in {"Deployment", "StatefulSet", "Job", "DaemonSet"}:
            yield where, spec["template"]["spec"]


def is_helm_test(obj: dict[str, Any]) -> bool:
    hooks = obj["metadata"].get("annotations", {}).get("helm.sh/hook", "")
    return "test" in hooks.split(",")


def containers(
    objects: list[dict[str, Any]], *, tests: bool = True
) -> Iterator[tuple[str, dict[str, Any]]]:
    for where, spec in pod_specs(o for o in objects if tests or not is_helm_test(o)):
        for container in spec.get("initContainers", []) + spec.get("containers", []):
            yield f"{where}/{container['name']}", container


def secret_refs(
    objects: list[dict[str, Any]], *, tests: bool = True
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(container, env name, secretKeyRef) of every env var taken from a Secret."""
    for where, container in containers(objects, tests=tests):
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                yield where, env["name"], ref


def env_values(objects: list[dict[str, Any]], name: str) -> dict[str, str]:
    return {
        where: env["value"]
        for where, container in containers(objects)
        for env in container.get("env", [])
        if env["name"] == name and "value" in env
    }


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ecr_images(docs: dict[str, HclDoc]) -> set[str]:
    """Images the registry module makes ECR repositories for (the stack uses the default)."""
    variables = dict(doc(docs, "modules/registry/variables.tf").labeled("variable"))
    return set(attr(variables["images"], "default"))


@pytest.fixture(scope="module")
def external_secrets(defaults: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The module's platform-secrets chart, rendered as the module configures it."""
    values = {
        "region": "region-1",
        "refreshInterval": defaults["secret_refresh_interval"],
        "database": {
            "secretArn": SECRET_ARN.format("rds!db-0123"),
            "targetSecretName": defaults["database_secret_name"],
            "urlTemplate": "postgresql://{{ .username }}:{{ .password }}@db:5432/taskplane",
        },
        "platform": {
            "secretArn": SECRET_ARN.format("taskplane/platform"),
            "targetSecretName": defaults["platform_secret_name"],
            "bootstrapAdminEmail": "platform-admin@example.com",
            "notificationKekSecretArn": SECRET_ARN.format("taskplane/notification-kek-a1b2c3"),
        },
    }
    objects = render_chart(SECRETS_CHART, values, f"{RELEASE}-platform-secrets")
    return {o["spec"]["target"]["name"]: o for o in objects if o["kind"] == "ExternalSecret"}


def secret_keys(external_secret: dict[str, Any]) -> set[str]:
    """Keys of the Kubernetes Secret an ExternalSecret builds."""
    spec = external_secret["spec"]
    template = spec["target"].get("template", {})
    templated = set(template.get("data", {}))
    fetched = {item["secretKey"] for item in spec.get("data", [])}
    if templated and template.get("mergePolicy", "Replace") == "Replace":
        return templated
    return templated | fetched


@pytest.fixture(scope="module", params=CASES, ids=[c.name for c in CASES])
def case(request: pytest.FixtureRequest) -> Inputs:
    return request.param


@pytest.fixture(scope="module")
def values(case: Inputs, defaults: dict[str, Any]) -> dict[str, Any]:
    return render_template(template_inputs(case, defaults))


@pytest.fixture(scope="module")
def objects(values: dict[str, Any]) -> list[dict[str, Any]]:
    # Fails with the chart's message (schema violation naming the key, missing
    # production secret, ...) if Terraform's values break the contract.
    return render_chart(CHART, values, RELEASE)


# --------------------------------------------------------------------------- the rendered chart


def test_images_are_the_ecr_repositories(
    case: Inputs, objects: list[dict[str, Any]], ecr_images: set[str]
) -> None:
    prefix = f"{case.image_registry}/{case.image_repository_prefix}/"
    seen = set()
    for where, container in containers(objects):
        image = container["image"]
        assert image.startswith(prefix), f"{where}: {image} is not in ECR under {prefix}"
        repository, tag = image[len(prefix) :].rsplit(":", 1)
        assert repository in ecr_images, f"{where}: no ECR repository {repository}"
        assert tag == case.image_tag, f"{where}: {image}"
        seen.add(repository)
    assert {"auth-service", "user-service", "task-service", "operator"} <= seen

    (worker_image,) = set(env_values(objects, "TASKPLANE_WORKER_IMAGE").values())
    assert worker_image == f"{prefix}worker:{case.image_tag}"
    assert "worker" in ecr_images


def test_environment(case: Inputs, objects: list[dict[str, Any]]) -> None:
    environments = env_values(objects, "TASKPLANE_ENVIRONMENT")
    assert environments, "no component got TASKPLANE_ENVIRONMENT"
    assert set(environments.values()) == {case.environment}, environments


def test_database_comes_from_the_external_secret(
    objects: list[dict[str, Any]],
    defaults: dict[str, Any],
    external_secrets: dict[str, dict[str, Any]],
) -> None:
    name = defaults["database_secret_name"]
    refs = [ref for _, env, ref in secret_refs(objects) if env == "DATABASE_URL"]
    assert len(refs) >= 3, "auth, user and task services (and their migrations) use the DB"
    assert all(ref == {"name": name, "key": "DATABASE_URL"} for ref in refs), refs
    assert "DATABASE_URL" in secret_keys(external_secrets[name])
    assert not any(o["kind"] == "StatefulSet" for o in objects), "no in-chart PostgreSQL"


def test_platform_secrets_come_from_the_external_secret(
    case: Inputs,
    objects: list[dict[str, Any]],
    defaults: dict[str, Any],
    external_secrets: dict[str, dict[str, Any]],
) -> None:
    name = defaults["platform_secret_name"]
    refs = [(w, env, ref) for w, env, ref in secret_refs(objects) if env != "DATABASE_URL"]
    assert refs
    provided = secret_keys(external_secrets[name])
    for where, env, ref in refs:
        assert ref["name"] == name, f"{where} {env}: {ref}"
        assert ref["key"] in provided, f"{where} {env}: key {ref['key']} not synced into {name}"
    if case.environment == "production":
        # the platform itself (not the helm test pods) must not start without its secrets
        for where, env, ref in secret_refs(objects, tests=False):
            assert not ref.get("optional"), f"{where} {env}: optional in production"
    # every key the chart knows, so nothing falls back to a development default
    chart_keys = set(
        yaml.safe_load((CHART / "values.yaml").read_text())["global"]["secrets"]["values"]
    )
    assert chart_keys <= provided, f"not synced: {chart_keys - provided}"
    rendered_secrets = [o["metadata"]["name"] for o in objects if o["kind"] == "Secret"]
    assert not rendered_secrets, f"secrets belong in Secrets Manager: {rendered_secrets}"


def test_the_chart_references_no_token_secret(
    objects: list[dict[str, Any]], external_secrets: dict[str, dict[str, Any]]
) -> None:
    """Workers, the operator and the notification-service use their ServiceAccount tokens."""
    assert env_values(objects, "TASKPLANE_WORKER_TOKEN_SECRET") == {}
    token_refs = [(w, env) for w, env, ref in secret_refs(objects) if "token" in ref["key"]]
    assert not token_refs, f"service tokens from a Secret: {token_refs}"
    synced = {key for external in external_secrets.values() for key in secret_keys(external)}
    assert not [key for key in synced if "token" in key], synced
    assert "worker-token" not in json.dumps(objects)


def test_workload_identity_uses_tokenreview_against_the_eks_issuer(
    objects: list[dict[str, Any]],
) -> None:
    """The EKS issuer's JWKS is a public AWS endpoint the auth-service's egress does not
    reach, so the auth-service asks the in-cluster API server (TokenReview)."""
    assert set(env_values(objects, "TASKPLANE_AUTH_KUBERNETES_ISSUER").values()) == {EKS_ISSUER}
    assert set(env_values(objects, "TASKPLANE_AUTH_KUBERNETES_MODE").values()) == {"tokenreview"}
    assert env_values(objects, "TASKPLANE_AUTH_KUBERNETES_CA_FILE") == {}, "oidc-only CA mount"
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    (role,) = [r for r in by_kind["ClusterRole"] if r["metadata"]["name"].endswith("-tokenreview")]
    assert role["rules"] == [
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["tokenreviews"],
            "verbs": ["create"],
        }
    ]
    bindings = {b["roleRef"]["name"]: b for b in by_kind["ClusterRoleBinding"]}
    assert "system:service-account-issuer-discovery" not in bindings, "no anonymous discovery"
    subjects = bindings[role["metadata"]["name"]]["subjects"]
    assert subjects == [
        {"kind": "ServiceAccount", "name": f"{RELEASE}-auth-service", "namespace": NAMESPACE}
    ]
    (auth,) = [
        spec for where, spec in pod_specs(objects) if where == f"Deployment/{RELEASE}-auth-service"
    ]
    assert auth["automountServiceAccountToken"] is True, "TokenReview needs its API token"
    token_files = env_values(objects, "TASKPLANE_TOKEN_FILE")
    for component in ("operator", "notification-service"):
        assert any(f"{RELEASE}-{component}/" in where for where in token_files), component


def test_notification_settings_reach_the_notification_service(
    case: Inputs, objects: list[dict[str, Any]]
) -> None:
    (deployment,) = [
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "taskplane-notification-service"
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    for name, value in case.notification_settings:
        assert env[name] == value
    assert env["TASKPLANE_TASK_SERVICE_URL"] == "http://taskplane-task-service:8003"


def test_observability_switch(case: Inputs, objects: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in objects}
    monitoring = {"ServiceMonitor", "PrometheusRule"}
    if case.observability:
        assert monitoring <= kinds
    else:
        assert not monitoring & kinds, "no prometheus-operator CRDs without observability"
        assert not env_values(objects, "OTEL_EXPORTER_OTLP_ENDPOINT")
