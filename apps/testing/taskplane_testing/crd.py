"""The CRD and an admission step that does what the API server does with it.

Structural defaulting, OpenAPI validation (jsonschema) and the CRD's CEL rules, compiled
and run by a real CEL engine (cel-python) with the Kubernetes extension functions the
rules use registered: a typo in a rule's text fails here as it would on a cluster.
"""

from __future__ import annotations

import copy
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import celpy
import jsonschema
from celpy import celtypes
from celpy.adapter import json_to_cel

from taskplane_testing import REPO_ROOT

CRD_PATH = REPO_ROOT / "charts/taskplane/crds/taskqueues.taskplane.io.yaml"
SAMPLES_DIR = REPO_ROOT / "k8s/samples"


def is_url(value: celtypes.Value) -> celtypes.BoolType:
    """Kubernetes' ``isURL``: an absolute URL with a host (http, https and the like)."""
    parsed = urllib.parse.urlparse(str(value))
    return celtypes.BoolType(bool(parsed.scheme) and bool(parsed.hostname))


#: The Kubernetes CEL library functions the CRD's rules call, by CEL name.
KUBERNETES_FUNCTIONS: dict[str, Any] = {"isURL": is_url}


@dataclass(frozen=True)
class CelRule:
    path: tuple[str, ...]
    rule: str
    message: str

    @property
    def transition(self) -> bool:
        return "oldSelf" in self.rule


def cel_rules(schema: Mapping[str, Any], path: tuple[str, ...] = ()) -> list[CelRule]:
    """Every x-kubernetes-validations rule with the property path it applies to."""
    rules = [
        CelRule(path, item["rule"], item.get("message", ""))
        for item in schema.get("x-kubernetes-validations", [])
    ]
    for key, sub in schema.get("properties", {}).items():
        rules += cel_rules(sub, (*path, key))
    return rules


def apply_defaults(schema: Mapping[str, Any], value: Any) -> Any:
    """Structural defaulting, top-down, as the API server does on create and update."""
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = apply_defaults(sub, value[key])
    elif isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], item) for item in value]
    return value


def to_jsonschema(schema: Any) -> Any:
    """OpenAPI v3.0 (Kubernetes flavour) to JSON Schema draft 4: only `nullable` differs."""
    if isinstance(schema, list):
        return [to_jsonschema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {
        key: to_jsonschema(value) for key, value in schema.items() if not key.startswith("x-")
    }
    if result.pop("nullable", False) and "type" in result:
        result["type"] = [result["type"], "null"]
    if "properties" in schema:
        result["properties"] = {k: to_jsonschema(v) for k, v in schema["properties"].items()}
    return result


def to_cel(value: Any, schema: Mapping[str, Any]) -> Any:
    """JSON to CEL values typed by the schema, as the API server does: a ``number`` is a
    double even when written as 2, an ``integer`` an int."""
    kind = schema.get("type")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return celtypes.MapType(
            {
                celtypes.StringType(k): to_cel(
                    v, props.get(k, extra if isinstance(extra, dict) else {})
                )
                for k, v in value.items()
            }
        )
    if isinstance(value, list):
        return celtypes.ListType([to_cel(item, schema.get("items", {})) for item in value])
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return celtypes.DoubleType(value)
    return json_to_cel(value)


def schema_at(schema: Mapping[str, Any], path: tuple[str, ...]) -> Mapping[str, Any]:
    for key in path:
        schema = schema.get("properties", {}).get(key, {})
    return schema


@dataclass
class CompiledRule:
    """One x-kubernetes-validations rule, compiled once by the CEL engine."""

    rule: CelRule
    program: celpy.Runner

    @classmethod
    def compile(cls, rule: CelRule, env: celpy.Environment) -> CompiledRule:
        return cls(rule, env.program(env.compile(rule.rule), functions=KUBERNETES_FUNCTIONS))


class AdmissionError(Exception):
    """What the API server would answer with 422."""


def _at(obj: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return False, None
        obj = obj[key]
    return True, obj


@dataclass
class Admission:
    schema: dict[str, Any]

    def __post_init__(self) -> None:
        env = celpy.Environment()
        self.rules = [CompiledRule.compile(rule, env) for rule in cel_rules(self.schema)]

    def __call__(self, obj: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
        """Default, then validate (OpenAPI and CEL); returns the defaulted object."""
        obj = apply_defaults(self.schema, copy.deepcopy(obj))
        errors = sorted(
            jsonschema.Draft4Validator(to_jsonschema(self.schema)).iter_errors(obj), key=str
        )
        if errors:
            raise AdmissionError("; ".join(e.message for e in errors))
        for compiled in self.rules:
            rule = compiled.rule
            present, value = _at(obj, rule.path)
            if not present:
                continue
            old_present, old_value = _at(old, rule.path) if old is not None else (False, None)
            if rule.transition and not old_present:
                continue
            schema = schema_at(self.schema, rule.path)
            activation = {"self": to_cel(value, schema)}
            if rule.transition:
                activation["oldSelf"] = to_cel(old_value, schema)
            if not bool(compiled.program.evaluate(activation)):
                raise AdmissionError(rule.message)
        return obj


def taskqueue(name: str, namespace: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "taskplane.io/v1alpha1",
        "kind": "TaskQueue",
        "metadata": {"name": name, "namespace": namespace},
        "spec": copy.deepcopy(dict(spec)),
    }
