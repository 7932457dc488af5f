"""The TaskQueue CRD: a valid Kubernetes object, and a schema that admits what it should.

jsonschema checks the OpenAPI part; the CEL rules are compiled and run by cel-python
with the Kubernetes functions they call, so a rule that does not compile or refers to a
field that does not exist fails here.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import celpy
import kubernetes_validate
import pytest
import yaml

from taskplane_operator.model import HANDLER_PATTERN, TaskQueueSpec
from taskplane_testing.crd import SAMPLES_DIR, Admission, AdmissionError, cel_rules, taskqueue

MINIMAL = {"worker": {"handler": "builtin:noop"}}


def test_crd_is_a_valid_kubernetes_object(crd: dict[str, Any]) -> None:
    kubernetes_validate.validate(crd, "1.33", strict=True)


def test_crd_identity_scale_and_columns(crd: dict[str, Any]) -> None:
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "taskqueues.taskplane.io"
    assert (spec["group"], spec["scope"]) == ("taskplane.io", "Namespaced")
    assert spec["names"]["plural"] == "taskqueues"
    assert spec["names"]["kind"] == "TaskQueue"
    assert spec["names"]["shortNames"] == ["tq"]
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1"
    assert version["served"]
    assert version["storage"]
    assert version["subresources"]["status"] == {}
    assert version["subresources"]["scale"] == {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }
    columns = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert columns == ["Queue", "Available", "InFlight", "Replicas", "Ready", "Age"]


def test_scale_paths_exist_in_the_schema(tq_schema: dict[str, Any], crd: dict[str, Any]) -> None:
    """The API server rejects a scale subresource pointing at undeclared fields."""
    scale = crd["spec"]["versions"][0]["subresources"]["scale"]
    for path in scale.values():
        node = tq_schema
        for key in path.strip(".").split("."):
            node = node["properties"][key]
        assert node["type"] in ("integer", "string"), path


@pytest.mark.parametrize("sample", sorted(SAMPLES_DIR.glob("*.yaml")), ids=lambda path: path.name)
def test_samples_are_admitted(sample: Any, admit: Admission) -> None:
    obj = yaml.safe_load(sample.read_text())
    obj["metadata"].setdefault("namespace", "demo")
    admitted = admit(obj)
    TaskQueueSpec.model_validate(admitted["spec"])  # the operator reads it too


def test_defaults_fill_a_minimal_spec(admit: Admission) -> None:
    spec = admit(taskqueue("q", "ns", MINIMAL))["spec"]
    assert spec == {
        "worker": {"handler": "builtin:noop", "concurrency": 4},
        "scaling": {
            "minReplicas": 0,
            "maxReplicas": 20,
            "targetTasksPerReplica": 10,
            "pollIntervalSeconds": 5,
            "scaleDownStabilizationSeconds": 60,
        },
        "retry": {"maxAttempts": 5, "backoffBaseSeconds": 2, "backoffMaxSeconds": 300},
        "visibilityTimeoutSeconds": 60,
        "paused": False,
        "deletionPolicy": "Retain",
        "deletionTimeoutSeconds": 600,
    }


def test_operator_defaults_equal_crd_defaults(admit: Admission) -> None:
    """The operator re-applies defaults itself (objects that bypassed them); same values."""
    from_crd = admit(taskqueue("q", "ns", MINIMAL))["spec"]
    from_model = TaskQueueSpec.model_validate(MINIMAL).model_dump(by_alias=True, exclude_none=True)
    assert from_model == {
        **from_crd,
        "worker": {**from_crd["worker"], "env": [], "extraContainers": []},
    }


def test_handler_pattern_matches_the_operator(tq_schema: dict[str, Any]) -> None:
    handler = tq_schema["properties"]["spec"]["properties"]["worker"]["properties"]["handler"]
    assert handler["pattern"] == HANDLER_PATTERN


GOOD_HANDLERS = [
    "builtin:noop",
    "builtin:fail",
    "http://localhost:8080/handle",
    "https://handler.jobs.svc:8443",
    "python:pkg.mod:fn",
    "python:tasks:run_job",
]
BAD_HANDLERS = [
    "builtin:nope",
    "noop",
    "ftp://host/x",
    "http://",
    "http://host/with space",
    "python:pkg.mod",
    "python:1pkg:fn",
    "python:pkg:fn:extra",
    "",
]


@pytest.mark.parametrize("handler", GOOD_HANDLERS)
def test_good_handlers(handler: str, admit: Admission) -> None:
    admit(taskqueue("q", "ns", {"worker": {"handler": handler}}))


@pytest.mark.parametrize("handler", BAD_HANDLERS)
def test_bad_handlers(handler: str, admit: Admission) -> None:
    with pytest.raises(AdmissionError):
        admit(taskqueue("q", "ns", {"worker": {"handler": handler}}))


def merged(changes: dict[str, Any]) -> dict[str, Any]:
    """MINIMAL with ``changes`` merged in one level deep."""
    spec: dict[str, Any] = copy.deepcopy(MINIMAL)
    for key, value in changes.items():
        base = spec.get(key)
        spec[key] = {**base, **value} if isinstance(base, dict) else value
    return spec


BAD_SPECS: list[tuple[str, dict[str, Any], str]] = [
    ("no worker", {}, "'worker' is a required property"),
    ("no handler", {"worker": {}}, "'handler' is a required property"),
    ("zero concurrency", merged({"worker": {"concurrency": 0}}), "less than the minimum"),
    ("min > max", merged({"scaling": {"minReplicas": 5, "maxReplicas": 2}}), "must not exceed"),
    ("max zero", merged({"scaling": {"maxReplicas": 0}}), "less than the minimum"),
    ("target zero", merged({"scaling": {"targetTasksPerReplica": 0}}), "less than the minimum"),
    ("poll zero", merged({"scaling": {"pollIntervalSeconds": 0}}), "less than the minimum"),
    ("negative window", merged({"scaling": {"scaleDownStabilizationSeconds": -1}}), "minimum"),
    (
        "base > max backoff",
        merged({"retry": {"backoffBaseSeconds": 10, "backoffMaxSeconds": 5}}),
        "must not exceed",
    ),
    ("zero attempts", merged({"retry": {"maxAttempts": 0}}), "less than the minimum"),
    ("bad policy", merged({"deletionPolicy": "Orphan"}), "is not one of"),
    ("zero rate", merged({"rateLimitPerSecond": 0}), "less than or equal to the minimum"),
    ("replicas > max", merged({"replicas": 30}), "within [scaling.minReplicas"),
    ("string replicas", merged({"replicas": "3"}), "is not of type"),
    ("bad queue name", merged({"queueName": "-orders"}), "does not match"),
    (
        "reserved env",
        merged({"worker": {"env": [{"name": "TASKPLANE_TOKEN", "value": "x"}]}}),
        "set by the operator",
    ),
    (
        "sidecar named worker",
        merged({"worker": {"extraContainers": [{"name": "worker", "image": "x"}]}}),
        "is reserved",
    ),
    (
        "sidecar without image",
        merged({"worker": {"extraContainers": [{"name": "h"}]}}),
        "'image' is a required property",
    ),
    (
        "resource not a quantity",
        merged({"worker": {"resources": {"limits": {"cpu": []}}}}),
        "is not valid under any",
    ),
]


@pytest.mark.parametrize(("label", "spec", "error"), BAD_SPECS, ids=[b[0] for b in BAD_SPECS])
def test_bad_specs_are_refused(
    label: str, spec: dict[str, Any], error: str, admit: Admission
) -> None:
    with pytest.raises(AdmissionError, match=re.escape(error)):
        admit(taskqueue("q", "ns", spec))


def test_nullable_fields_accept_null(admit: Admission) -> None:
    admit(taskqueue("q", "ns", {**MINIMAL, "rateLimitPerSecond": None, "maxInFlight": None}))


def test_name_length_leaves_room_for_children(admit: Admission) -> None:
    admit(taskqueue("a" * 56, "ns", MINIMAL))
    with pytest.raises(AdmissionError, match="at most 56"):
        admit(taskqueue("a" * 57, "ns", MINIMAL))


def test_queue_name_is_immutable(admit: Admission) -> None:
    old = admit(taskqueue("q", "ns", {**MINIMAL, "queueName": "orders"}))
    admit(copy.deepcopy(old), old)  # unchanged: fine
    new = copy.deepcopy(old)
    new["spec"]["queueName"] = "orders-v2"
    with pytest.raises(AdmissionError, match="immutable"):
        admit(new, old)
    new["spec"].pop("queueName")
    with pytest.raises(AdmissionError, match="immutable"):
        admit(new, old)


def test_every_cel_rule_compiles_and_has_bounded_cost(
    tq_schema: dict[str, Any], admit: Admission
) -> None:
    rules = cel_rules(tq_schema)
    assert len(admit.rules) == len(rules) == 8  # compiled by the CEL engine in Admission
    assert all(rule.message for rule in rules)
    # CEL cost estimation needs bounds on every string and list a rule iterates.
    spec = tq_schema["properties"]["spec"]["properties"]
    worker = spec["worker"]["properties"]
    assert worker["handler"]["maxLength"]
    assert worker["env"]["maxItems"]
    assert worker["extraContainers"]["maxItems"]
    assert spec["queueName"]["maxLength"]


def test_status_conditions_are_a_map_keyed_by_type(tq_schema: dict[str, Any]) -> None:
    conditions = tq_schema["properties"]["status"]["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    item = conditions["items"]["properties"]
    assert item["type"]["enum"] == ["Ready", "Scaling", "Paused", "Degraded"]
    assert {"lastTransitionTime", "observedGeneration", "reason", "message"} <= set(item)


def test_a_rule_with_a_typo_is_caught_by_the_cel_engine() -> None:
    """What the hand-written twins could not see: the rule's own text is compiled."""
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.a <= self.c", "message": "a above b"}],
    }
    admit = Admission(schema)
    with pytest.raises(celpy.CELEvalError, match="no such member"):
        admit({"a": 1, "b": 2})
    with pytest.raises(celpy.CELParseError):
        Admission({**schema, "x-kubernetes-validations": [{"rule": "self.a <=", "message": "m"}]})
