"""The TaskQueue custom resource as typed Python, with the same defaults as the CRD.

The API server applies the CRD defaults before the operator sees an object; parsing
with these models again makes the operator correct for objects created before a
default existed and for tests that bypass admission. A test keeps both in step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

GROUP = "taskplane.io"
VERSION = "v1alpha1"
PLURAL = "taskqueues"
KIND = "TaskQueue"
API_VERSION = f"{GROUP}/{VERSION}"

# Same pattern as spec.worker.handler in the CRD (a test compares the two).
HANDLER_PATTERN = (
    r"^(builtin:(noop|sleep|echo|fail)"
    r"|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/\S*)?"
    r"|python:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*)$"
)
HANDLER_RE = re.compile(HANDLER_PATTERN)

DeletionPolicy = Literal["Retain", "Drain", "Delete"]


class _Model(BaseModel):
    """camelCase on the wire (Kubernetes style), snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class WorkerSpec(_Model):
    image: str | None = None
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    handler: str
    concurrency: int = Field(default=4, ge=1)
    resources: dict[str, dict[str, Any]] | None = None
    env: list[dict[str, Any]] = Field(default_factory=list)
    extra_containers: list[dict[str, Any]] = Field(default_factory=list)


class ScalingSpec(_Model):
    min_replicas: int = Field(default=0, ge=0)
    max_replicas: int = Field(default=20, ge=1)
    target_tasks_per_replica: int = Field(default=10, ge=1)
    poll_interval_seconds: int = Field(default=5, ge=1)
    scale_down_stabilization_seconds: int = Field(default=60, ge=0)

    @model_validator(mode="after")
    def _bounds_in_order(self) -> ScalingSpec:
        """The CRD's CEL rule again: min above max leaves no replica count to act on."""
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"minReplicas ({self.min_replicas}) must not exceed "
                f"maxReplicas ({self.max_replicas})"
            )
        return self


class RetrySpec(_Model):
    max_attempts: int = Field(default=5, ge=1)
    backoff_base_seconds: float = Field(default=2, ge=0)
    backoff_max_seconds: float = Field(default=300, ge=0)


class TaskQueueSpec(_Model):
    queue_name: str | None = None
    replicas: int | None = Field(default=None, ge=0)
    worker: WorkerSpec
    scaling: ScalingSpec = Field(default_factory=ScalingSpec)
    retry: RetrySpec = Field(default_factory=RetrySpec)
    visibility_timeout_seconds: int = Field(default=60, ge=1)
    rate_limit_per_second: float | None = None
    max_in_flight: int | None = None
    paused: bool = False
    deletion_policy: DeletionPolicy = "Retain"
    deletion_timeout_seconds: int = Field(default=600, ge=0)


class InvalidSpecError(ValueError):
    """A spec the operator cannot act on; the message names the field(s)."""


def parse_spec(spec: Mapping[str, Any]) -> TaskQueueSpec:
    """Parse a TaskQueue's spec, or raise InvalidSpecError naming every bad field.

    The CRD refuses all of these at admission; they still arrive from an older CRD, a
    server without CEL or a direct etcd write, and must not change any worker.
    """
    try:
        parsed = TaskQueueSpec.model_validate(dict(spec))
    except ValidationError as exc:
        raise InvalidSpecError("; ".join(_describe(error) for error in exc.errors())) from exc
    problem = handler_problem(parsed.worker.handler)
    if problem is not None:
        raise InvalidSpecError(f"spec.worker.handler: {problem}")
    return parsed


def _describe(error: Mapping[str, Any]) -> str:
    """``spec.scaling.maxReplicas: Input should be greater than or equal to 1``."""
    path = ".".join(["spec", *(to_camel(str(part)) for part in error["loc"])])
    return f"{path}: {str(error['msg']).removeprefix('Value error, ')}"


def queue_name(spec: TaskQueueSpec, namespace: str, name: str) -> str:
    """The task-service queue: spec.queueName, else ``<namespace>.<name>`` (the CRD contract)."""
    return spec.queue_name or f"{namespace}.{name}"


def handler_problem(handler: str) -> str | None:
    """Why a handler string is unusable, or None; the CRD normally rejects these first."""
    if HANDLER_RE.fullmatch(handler):
        return None
    return (
        f"handler {handler!r} is not builtin:noop|sleep|echo|fail, "
        "http(s)://host[:port]/path or python:module:function"
    )
