"""Every profile renders, and every rendered object is valid: Kubernetes 1.33 schemas in
strict mode for built-in kinds, CRD/vendored schemas for custom resources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "charts" / "taskplane"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
CRD_FILE = CHART_DIR / "charts" / "operator" / "crds" / "taskqueues.taskplane.io.yaml"
NAMESPACE = "taskplane"
PROFILES = ["default", "minimal", "full", "production", "kind-dev"]
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "Namespace", "CustomResourceDefinition"}
# Custom resources the chart renders, and the schema each is checked against.
CUSTOM_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.schema.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule.schema.json",
    ("opentelemetry.io/v1alpha1", "Instrumentation"): "instrumentation.schema.json",
    ("taskplane.io/v1alpha1", "TaskQueue"): None,  # the operator's CRD (see taskqueue_schema)
}


def taskqueue_schema() -> dict[str, Any]:
    """The TaskQueue CRD's openAPIV3Schema when the operator ships it, else our vendored
    minimal TaskQueue schema (so the check never silently disappears)."""
    if CRD_FILE.exists():
        crd = yaml.safe_load(CRD_FILE.read_text())
        (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
        return version["schema"]["openAPIV3Schema"]
    return json.loads((SCHEMAS / "taskqueue-minimal.schema.json").read_text())


def openapi_to_jsonschema(node: Any) -> Any:
    """A Kubernetes structural schema is OpenAPI 3.0: boolean exclusiveMinimum (as in
    JSON Schema draft 4) and ``nullable``. Map ``nullable`` onto a null type so the
    draft-4 validator accepts what the API server accepts."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: openapi_to_jsonschema(value) for key, value in node.items()}
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def check(instance: Any, schema: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(openapi_to_jsonschema(schema)).validate(instance)


def schema_for(api_version: str, kind: str) -> dict[str, Any]:
    name = CUSTOM_SCHEMAS[(api_version, kind)]
    if name is None:
        return taskqueue_schema()
    return json.loads((SCHEMAS / name).read_text())


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_renders_objects_with_names_and_namespace(profile, manifests):
    docs = manifests[profile]
    assert len(docs) > 20
    seen: set[tuple[str, str]] = set()
    for source, obj in docs:
        assert obj.get("apiVersion"), source
        assert obj.get("kind"), source
        meta = obj["metadata"]
        key = (obj["kind"], meta["name"])
        assert key not in seen, f"duplicate {key} in {profile}"
        seen.add(key)
        if obj["kind"] not in CLUSTER_SCOPED:
            assert meta.get("namespace") == NAMESPACE, f"{key} lacks the release namespace"
        labels = meta.get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "taskplane", key
        assert labels.get("app.kubernetes.io/instance") == "taskplane", key
        assert labels.get("app.kubernetes.io/managed-by") == "Helm", key


@pytest.mark.parametrize("profile", PROFILES)
def test_objects_valid_against_kubernetes_1_33_strict(profile, manifests):
    custom: list[dict[str, Any]] = []
    builtin = 0
    for source, obj in manifests[profile]:
        try:
            kubernetes_validate.validate(obj, "1.33", strict=True)
            builtin += 1
        except kubernetes_validate.SchemaNotFoundError:
            custom.append(obj)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{profile}: {source} {obj['kind']}/{obj['metadata']['name']}: {exc}")
    assert builtin > 20
    for obj in custom:
        key = (obj["apiVersion"], obj["kind"])
        assert key in CUSTOM_SCHEMAS, f"unexpected custom resource {key}"
        check(obj.get("spec", {}), schema_for(*key)["properties"]["spec"])
        assert obj["metadata"]["name"]


def test_custom_resources_present_where_expected(manifests):
    kinds = {p: {o["kind"] for _, o in manifests[p]} for p in PROFILES}
    for profile in ("default", "full", "production"):
        assert {"ServiceMonitor", "PrometheusRule"} <= kinds[profile], profile
    assert "Instrumentation" in kinds["full"]
    assert "TaskQueue" in kinds["default"]
    assert not {"ServiceMonitor", "PrometheusRule", "Instrumentation"} & kinds["minimal"]


def test_custom_resource_schemas_reject_mistakes():
    """The vendored schemas are strict enough to catch a typo or a wrong type."""
    sm = schema_for("monitoring.coreos.com/v1", "ServiceMonitor")["properties"]["spec"]
    with pytest.raises(jsonschema.ValidationError):
        check({"selector": {}, "endpoints": [{"prot": "http"}]}, sm)
    rule = schema_for("monitoring.coreos.com/v1", "PrometheusRule")["properties"]["spec"]
    with pytest.raises(jsonschema.ValidationError):
        check({"groups": [{"name": "g", "rules": [{"alert": "A"}]}]}, rule)
    tq = taskqueue_schema()["properties"]["spec"]
    with pytest.raises(jsonschema.ValidationError):
        check({"worker": {"handler": "builtin:noop", "concurrency": "four"}}, tq)
