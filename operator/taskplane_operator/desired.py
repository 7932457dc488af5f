"""Desired child objects of a TaskQueue: ServiceAccount, Deployment, PDB, PodMonitor.

Pure code: spec + settings in, manifests out. Owner references come from kopf.adopt,
which only edits the dicts, so deleting a TaskQueue cascades to all of them.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from typing import Any, cast

import kopf

from taskplane_operator.model import TaskQueueSpec, queue_name
from taskplane_operator.settings import OperatorSettings

WORKER_CONTAINER = "worker"
WORKER_PORT = 9100
WORKER_UID = 10001
MANAGED_BY = "taskplane-operator"
TOKEN_VOLUME = "taskplane-token"  # noqa: S105 - a volume name
TOKEN_MOUNT_PATH = "/var/run/secrets/taskplane/serviceaccount"  # noqa: S105 - a path
TOKEN_FILE_NAME = "token"  # noqa: S105 - a file name
DEFAULT_RESOURCES: dict[str, dict[str, Any]] = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def child_name(name: str) -> str:
    """One name for all children; the CRD caps TaskQueue names at 56 so this fits 63."""
    return f"{name}-worker"


def label_value(value: str) -> str:
    """``value`` if it is a valid label value, else a readable prefix plus a hash."""
    if len(value) <= 63 and _LABEL_VALUE.match(value):
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:10]
    prefix = re.sub(r"[^-A-Za-z0-9_.]", "-", value)[:52].strip("-_.")
    return f"{prefix}-{digest}" if prefix else digest


def selector_labels(name: str) -> dict[str, str]:
    """Immutable Deployment selector: name + instance only, never the mutable queue."""
    return {
        "app.kubernetes.io/name": "taskplane-worker",
        "app.kubernetes.io/instance": name,
    }


def worker_labels(name: str, queue: str) -> dict[str, str]:
    return {
        **selector_labels(name),
        "app.kubernetes.io/component": "worker",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "taskplane.io/queue": label_value(queue),
    }


def selector_string(name: str) -> str:
    """status.selector for the scale subresource (HPA reads the string form)."""
    return ",".join(f"{k}={v}" for k, v in sorted(selector_labels(name).items()))


def restricted_container_security() -> dict[str, Any]:
    """Pod Security "restricted" at container level, plus a read-only root filesystem."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": WORKER_UID,
        "runAsGroup": WORKER_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def restricted_pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": WORKER_UID,
        "runAsGroup": WORKER_UID,
        "fsGroup": WORKER_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _sidecar(container: Mapping[str, Any]) -> dict[str, Any]:
    """A user's extra container with restricted defaults for what it leaves unset.

    Without them one sidecar would make the whole pod fail "restricted" admission;
    values the user did set are kept (and then judged by admission, not by us).
    """
    result = copy.deepcopy(dict(container))
    security = result.setdefault("securityContext", {})
    for key, value in restricted_container_security().items():
        security.setdefault(key, value)
    return result


def _owned(obj: dict[str, Any], owner: Mapping[str, Any]) -> dict[str, Any]:
    kopf.adopt(obj, owner=kopf.Body(cast(kopf.RawBody, dict(owner))))
    return obj


def _meta(owner: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": child_name(owner["metadata"]["name"]),
        "namespace": owner["metadata"]["namespace"],
        "labels": dict(labels),
    }


def service_account(owner: Mapping[str, Any], spec: TaskQueueSpec) -> dict[str, Any]:
    """The workers' identity: bound to the queue at the auth-service (registration.ensure);
    never used against the Kubernetes API, so its API token is not mounted."""
    labels = worker_labels(owner["metadata"]["name"], _queue(owner, spec))
    return _owned(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(owner, labels),
            "automountServiceAccountToken": False,
        },
        owner,
    )


def worker_args(spec: TaskQueueSpec, queue: str) -> list[str]:
    """The worker command line (a contract: docs/architecture.md)."""
    return [
        "--queue",
        queue,
        "--handler",
        spec.worker.handler,
        "--concurrency",
        str(spec.worker.concurrency),
    ]


def projected_token_volume(settings: OperatorSettings) -> dict[str, Any]:
    """The workers' identity: a ServiceAccount token only the auth-service accepts
    (audience), short-lived and rotated by the kubelet, which the worker exchanges for
    an access token scoped to its queue. The API-server token stays unmounted."""
    token = {
        "audience": settings.worker_token_audience,
        "expirationSeconds": settings.worker_token_expiration_s,
        "path": TOKEN_FILE_NAME,
    }
    return {"name": TOKEN_VOLUME, "projected": {"sources": [{"serviceAccountToken": token}]}}


def grace_period(spec: TaskQueueSpec, settings: OperatorSettings) -> int:
    """A pod told to stop may finish a task leased just before: lease time plus margin."""
    return spec.visibility_timeout_seconds + settings.grace_margin_s


def deployment(
    owner: Mapping[str, Any],
    spec: TaskQueueSpec,
    settings: OperatorSettings,
    replicas: int,
) -> dict[str, Any]:
    """The worker Deployment; ``replicas`` is used on creation only (the scaler owns it)."""
    name = owner["metadata"]["name"]
    queue = _queue(owner, spec)
    labels = worker_labels(name, queue)
    probe = {
        "httpGet": {"path": "/healthz", "port": "metrics"},
        "periodSeconds": 10,
        "timeoutSeconds": 3,
        "failureThreshold": 3,
    }
    env: list[dict[str, Any]] = [
        {"name": "TASKPLANE_API_URL", "value": settings.effective_worker_api_url},
        {"name": "TASKPLANE_TOKEN_FILE", "value": f"{TOKEN_MOUNT_PATH}/{TOKEN_FILE_NAME}"},
    ]
    if settings.effective_worker_auth_url:
        # Where the workers exchange their ServiceAccount token for access tokens.
        env.append({"name": "TASKPLANE_AUTH_URL", "value": settings.effective_worker_auth_url})
    env += copy.deepcopy(spec.worker.env)
    worker: dict[str, Any] = {
        "name": WORKER_CONTAINER,
        "image": spec.worker.image or settings.worker_image,
        "command": ["taskplane-worker"],
        "args": worker_args(spec, queue),
        "env": env,
        "ports": [{"name": "metrics", "containerPort": WORKER_PORT, "protocol": "TCP"}],
        "livenessProbe": {**probe, "initialDelaySeconds": 5},
        "readinessProbe": {**probe, "periodSeconds": 5},
        "resources": copy.deepcopy(spec.worker.resources or DEFAULT_RESOURCES),
        "securityContext": restricted_container_security(),
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108
            {"name": TOKEN_VOLUME, "mountPath": TOKEN_MOUNT_PATH, "readOnly": True},
        ],
    }
    if spec.worker.image_pull_policy:
        worker["imagePullPolicy"] = spec.worker.image_pull_policy
    pod_spec: dict[str, Any] = {
        "serviceAccountName": child_name(name),
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": grace_period(spec, settings),
        "securityContext": restricted_pod_security(),
        "containers": [worker, *(_sidecar(c) for c in spec.worker.extra_containers)],
        "volumes": [
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
            projected_token_volume(settings),
        ],
    }
    return _owned(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(owner, labels),
            "spec": {
                "replicas": replicas,
                "revisionHistoryLimit": 3,
                "selector": {"matchLabels": selector_labels(name)},
                # New pods first, old ones only then: a rollout never drops capacity.
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
                },
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
        },
        owner,
    )


def pod_disruption_budget(owner: Mapping[str, Any], spec: TaskQueueSpec) -> dict[str, Any]:
    """Evict one worker at a time; never blocks node drains even at one replica."""
    return _selecting_workers(owner, spec, "policy/v1", "PodDisruptionBudget", maxUnavailable=1)


def pod_monitor(owner: Mapping[str, Any], spec: TaskQueueSpec) -> dict[str, Any]:
    """prometheus-operator scrape config for the workers' :9100/metrics."""
    endpoint = {"port": "metrics", "path": "/metrics", "interval": "30s"}
    return _selecting_workers(
        owner, spec, "monitoring.coreos.com/v1", "PodMonitor", podMetricsEndpoints=[endpoint]
    )


def _selecting_workers(
    owner: Mapping[str, Any], spec: TaskQueueSpec, api_version: str, kind: str, **fields: Any
) -> dict[str, Any]:
    """A child whose spec selects the workers: owned by the TaskQueue, labelled like them."""
    name = owner["metadata"]["name"]
    return _owned(
        {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": _meta(owner, worker_labels(name, _queue(owner, spec))),
            "spec": {"selector": {"matchLabels": selector_labels(name)}, **fields},
        },
        owner,
    )


def children(
    owner: Mapping[str, Any],
    spec: TaskQueueSpec,
    settings: OperatorSettings,
    replicas: int,
) -> list[dict[str, Any]]:
    """All desired children in creation order (the SA before the pods that use it)."""
    objs = [
        service_account(owner, spec),
        deployment(owner, spec, settings, replicas),
        pod_disruption_budget(owner, spec),
    ]
    if settings.monitoring_enabled:
        objs.append(pod_monitor(owner, spec))
    return objs


def _queue(owner: Mapping[str, Any], spec: TaskQueueSpec) -> str:
    return queue_name(spec, owner["metadata"]["namespace"], owner["metadata"]["name"])


def drift(declared: Any, live: Any, path: str = "") -> list[str]:
    """Paths where ``live`` no longer holds what ``declared`` says, outermost first.

    Only declared fields count: the API server's defaults and fields other managers
    added (annotations, an injected sidecar or env var) are not drift. Lists of named
    items (containers, env, volumes, ports) match by name, as server-side apply merges
    them; other lists (args, command) must be equal.
    """
    if isinstance(declared, Mapping):
        if not isinstance(live, Mapping):
            return [path or "."]
        found: list[str] = []
        for key, value in declared.items():
            where = f"{path}.{key}" if path else str(key)
            found += [where] if key not in live else drift(value, live[key], where)
        return found
    if isinstance(declared, list) and _named(declared):
        if not isinstance(live, list):
            return [path]
        by_name = {item.get("name"): item for item in live if isinstance(item, Mapping)}
        found = []
        for item in declared:
            where = f"{path}[{item['name']}]"
            found += (
                [where]
                if item["name"] not in by_name
                else drift(item, by_name[item["name"]], where)
            )
        return found
    if isinstance(declared, list):
        same = isinstance(live, list) and len(declared) == len(live)
        return (
            []
            if same and not any(drift(d, c) for d, c in zip(declared, live, strict=True))
            else [path]
        )
    return [] if declared == live else [path]


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, Mapping) and "name" in item for item in items)
