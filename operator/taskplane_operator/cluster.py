"""The operator's own Kubernetes calls, through kubernetes_asyncio's typed API.

kopf watches and patches the TaskQueues; the children (ServiceAccount, Deployment, PDB,
PodMonitor), the workers' replicas and the autoscaler's status go through here. Children
are written by server-side apply under one field manager, so the API server tracks which
fields are the operator's: re-applying restores those and leaves fields that other
managers own (an annotation added by ``kubectl rollout restart``, an extra env var added
by a mutating webhook) alone.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from taskplane_operator.model import GROUP, PLURAL, VERSION

FIELD_MANAGER = "taskplane-operator"
USER_AGENT = "taskplane-operator"
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
ChildKind = Literal["ServiceAccount", "Deployment", "PodDisruptionBudget", "PodMonitor"]
Json = dict[str, Any]


class KubernetesApiError(Exception):
    """A non-2xx answer or a transport failure; ``status`` is None for the latter."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class _Verbs:
    """The typed calls for one kind of child: read, apply (PATCH) and create."""

    read: Callable[[str, str], Awaitable[Any]]
    patch: Callable[..., Awaitable[Any]]
    create: Callable[..., Awaitable[Any]]


async def connect() -> client.ApiClient:
    """In-cluster service account first (its token is re-read as it rotates), else the
    kubeconfig (``$KUBECONFIG`` or ``~/.kube/config``), as kopf's own login does."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except ConfigException:
        await config.load_kube_config(client_configuration=configuration)
    api = client.ApiClient(configuration)
    api.user_agent = USER_AGENT
    return api


class Cluster:
    """Children by server-side apply, Deployment replicas and TaskQueue status."""

    def __init__(self, api: client.ApiClient) -> None:
        self._api = api
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        policy, custom = client.PolicyV1Api(api), client.CustomObjectsApi(api)
        monitors = ("monitoring.coreos.com", "v1")
        self._custom = custom
        self._verbs: dict[str, _Verbs] = {
            "ServiceAccount": _Verbs(
                core.read_namespaced_service_account,
                core.patch_namespaced_service_account,
                core.create_namespaced_service_account,
            ),
            "Deployment": _Verbs(
                apps.read_namespaced_deployment,
                apps.patch_namespaced_deployment,
                apps.create_namespaced_deployment,
            ),
            "PodDisruptionBudget": _Verbs(
                policy.read_namespaced_pod_disruption_budget,
                policy.patch_namespaced_pod_disruption_budget,
                policy.create_namespaced_pod_disruption_budget,
            ),
            "PodMonitor": _Verbs(
                lambda name, ns: custom.get_namespaced_custom_object(
                    *monitors, ns, "podmonitors", name
                ),
                lambda name, ns, body, **kw: custom.patch_namespaced_custom_object(
                    *monitors, ns, "podmonitors", name, body, **kw
                ),
                lambda ns, body, **kw: custom.create_namespaced_custom_object(
                    *monitors, ns, "podmonitors", body, **kw
                ),
            ),
        }

    async def close(self) -> None:
        await self._api.close()

    async def read(self, kind: ChildKind, namespace: str, name: str) -> Json | None:
        """The live object as plain JSON (camelCase, like the API), or None if absent."""
        try:
            found = await _call(
                f"GET {kind} {namespace}/{name}", self._verbs[kind].read(name, namespace)
            )
        except KubernetesApiError as exc:
            if exc.status == 404:
                return None
            raise
        return self._plain(found)

    async def apply(self, obj: Mapping[str, Any]) -> Json:
        """Server-side apply of ``obj`` under the operator's field manager (forced: the
        operator's fields are the operator's, whoever edited them by hand)."""
        meta = obj["metadata"]
        verbs = self._verbs[obj["kind"]]
        where = f"{obj['kind']} {meta['namespace']}/{meta['name']}"
        apply = verbs.patch(
            meta["name"],
            meta["namespace"],
            dict(obj),
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type=APPLY,
        )
        try:
            result = await _call(f"apply {where}", apply)
        except KubernetesApiError as exc:
            if exc.status != 404:
                raise
            # A real API server creates on apply; kmock's emulator answers 404 instead.
            create = verbs.create(meta["namespace"], dict(obj), field_manager=FIELD_MANAGER)
            result = await _call(f"create {where}", create)
        applied = self._plain(result)
        if not applied:  # kmock's answer to creating a custom object has no body
            applied = await self.read(obj["kind"], meta["namespace"], meta["name"]) or {}
        return applied

    async def set_replicas(self, namespace: str, name: str, replicas: int) -> None:
        """The autoscaler's one write to the worker Deployment."""
        patch = self._verbs["Deployment"].patch(
            name,
            namespace,
            {"spec": {"replicas": replicas}},
            field_manager=FIELD_MANAGER,
            _content_type=MERGE,
        )
        await _call(f"scale Deployment {namespace}/{name}", patch)

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Merge ``status`` into a TaskQueue's status subresource."""
        # Typed as Callable[..., ...]: the package's stubs omit ``_content_type``, which
        # the generated method accepts and a merge patch of a custom object needs.
        patch_status: Callable[..., Awaitable[Any]] = (
            self._custom.patch_namespaced_custom_object_status
        )
        patch = patch_status(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            name,
            {"status": dict(status)},
            field_manager=FIELD_MANAGER,
            _content_type=MERGE,
        )
        await _call(f"patch TaskQueue {namespace}/{name} status", patch)

    def _plain(self, found: Any) -> Json:
        """Typed models back to the API's JSON shape; custom objects already are."""
        result: Json | None = self._api.sanitize_for_serialization(found)
        return result or {}


async def _call(what: str, call: Awaitable[Any]) -> Any:
    """Await one API call; every failure becomes a KubernetesApiError saying what failed."""
    try:
        return await call
    except ApiException as exc:
        raise _error(exc, what) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise KubernetesApiError(None, f"{what}: {type(exc).__name__}: {exc}") from exc


def _error(exc: ApiException, what: str) -> KubernetesApiError:
    """The API's own Status message when it sent one, else the HTTP reason."""
    message = str(exc.reason or "")
    try:
        body = json.loads(exc.body) if exc.body else {}
    except ValueError:
        body = {}
    if isinstance(body, dict) and body.get("message"):
        message = str(body["message"])[:300]
    status = int(exc.status) if exc.status else None
    return KubernetesApiError(status, f"{what}: HTTP {exc.status}: {message}")
