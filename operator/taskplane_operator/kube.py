"""A small async Kubernetes API client on httpx for the operator's own writes.

kopf watches and patches the TaskQueues; the children (Deployment, PDB, ...) and the
status from the autoscaler daemon go through this client. It reuses kopf's credential
discovery (in-cluster service account, else kubeconfig), the same one the operator's
login handler hands to kopf, and logs in again once on HTTP 401 (rotated tokens).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import os
import ssl
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import httpx
import kopf

Connect = Callable[[], kopf.ConnectionInfo]
EnsureResult = Literal["created", "patched", "unchanged"]

PLURALS: dict[str, str] = {
    "ServiceAccount": "serviceaccounts",
    "Deployment": "deployments",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "PodMonitor": "podmonitors",
    "TaskQueue": "taskqueues",
}


def discover_connection(settings: kopf.OperatorSettings) -> kopf.ConnectionInfo:
    """In-cluster service account first, else the kubeconfig (kopf's own discovery)."""
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(
        settings=settings
    )
    if info is None:
        raise kopf.LoginError("no in-cluster service account and no kubeconfig found")
    return info


class KubeApiError(Exception):
    """A non-2xx answer or a transport failure; ``status`` is None for the latter."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def path_for(
    api_version: str,
    kind: str,
    namespace: str,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """REST path of a namespaced object (or its collection when name is None)."""
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = f"{prefix}/namespaces/{namespace}/{PLURALS[kind]}"
    if name is not None:
        path += f"/{name}"
        if subresource:
            path += f"/{subresource}"
    return path


def path_of(obj: Mapping[str, Any], subresource: str | None = None) -> str:
    meta = obj["metadata"]
    return path_for(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"], subresource)


def is_subset(desired: Any, current: Any) -> bool:
    """True if every field of ``desired`` has the same value in ``current``.

    The API server adds defaults (protocol, terminationMessagePath, ...) to what we
    send; comparing only our fields avoids a write on every reconcile.
    """
    if isinstance(desired, Mapping):
        return isinstance(current, Mapping) and all(
            key in current and is_subset(value, current[key]) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(current, list)
            and len(desired) == len(current)
            and all(is_subset(d, c) for d, c in zip(desired, current, strict=True))
        )
    return bool(desired == current)


def without(obj: Mapping[str, Any], paths: Sequence[Sequence[str]]) -> dict[str, Any]:
    """A deep copy of ``obj`` minus the given field paths (fields other owners manage)."""
    result = copy.deepcopy(dict(obj))
    for path in paths:
        node: Any = result
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return result


class KubeClient:
    """Create/read/merge-patch/delete for namespaced objects, JSON only."""

    def __init__(self, connect: Connect, timeout_s: float = 30.0) -> None:
        self._connect = connect
        self._timeout_s = timeout_s
        self._http: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def get(self, path: str) -> dict[str, Any] | None:
        try:
            return await self._request("GET", path)
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._request("POST", path, body)

    async def merge_patch(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._request("PATCH", path, body, content_type="application/merge-patch+json")

    async def delete(self, path: str) -> None:
        try:
            await self._request("DELETE", path, {"propagationPolicy": "Background"})
        except KubeApiError as exc:
            if exc.status != 404:
                raise

    async def ensure(
        self,
        desired: Mapping[str, Any],
        unmanaged: Sequence[Sequence[str]] = (),
    ) -> tuple[EnsureResult, dict[str, Any]]:
        """Create ``desired`` or merge-patch the existing object toward it.

        ``unmanaged`` fields are set on creation only (e.g. spec.replicas, which the
        autoscaler owns afterwards). A merge patch replaces lists wholesale, which is
        what the pod template needs: containers, env and volumes are ours entirely.
        """
        path = path_of(desired)
        current = await self.get(path)
        if current is None:
            collection = path.rsplit("/", 1)[0]
            try:
                return "created", await self.create(collection, desired)
            except KubeApiError as exc:
                if exc.status != 409:  # lost a race with our own earlier attempt
                    raise
                current = await self.get(path) or {}
        patch = without(desired, unmanaged)
        if is_subset(patch, current):
            return "unchanged", current
        return "patched", await self.merge_patch(path, patch)

    async def _request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        for attempt in range(2):
            http = self._client()
            try:
                response = await http.request(
                    method,
                    path,
                    json=body,
                    headers={"Content-Type": content_type} if body is not None else None,
                )
            except httpx.HTTPError as exc:
                raise KubeApiError(None, f"{method} {path}: {type(exc).__name__}: {exc}") from exc
            if response.status_code == 401 and attempt == 0:
                # Credentials rotated (bound service-account tokens do): log in again, once.
                if self._http is http:
                    self._http = None
                    await http.aclose()
                continue
            if not response.is_success:
                raise KubeApiError(
                    response.status_code,
                    f"{method} {path}: HTTP {response.status_code}: {_status_message(response)}",
                )
            result: dict[str, Any] = response.json()
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = _build_http(self._connect(), self._timeout_s)
        return self._http


def _status_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:300]
    return response.text[:200]


def _build_http(info: kopf.ConnectionInfo, timeout_s: float) -> httpx.AsyncClient:
    """An httpx client with the TLS material and credentials of a kopf ConnectionInfo."""
    headers: dict[str, str] = {"Accept": "application/json", "User-Agent": "taskplane-operator"}
    auth: httpx.BasicAuth | None = None
    if info.token:
        headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
    elif info.username and info.password:
        auth = httpx.BasicAuth(info.username, info.password)
    verify: ssl.SSLContext | bool = True
    if info.server.startswith("https:"):
        verify = _tls_context(info)
    return httpx.AsyncClient(
        base_url=info.server.rstrip("/"),
        headers=headers,
        auth=auth,
        verify=verify,
        timeout=timeout_s,
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )


def _tls_context(info: kopf.ConnectionInfo) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if info.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if info.ca_path:
        context.load_verify_locations(cafile=os.fsdecode(info.ca_path))
    elif info.ca_data:
        context.load_verify_locations(cadata=_pem(info.ca_data).decode())
    with (
        _pem_file(info.certificate_path, info.certificate_data) as cert,
        _pem_file(info.private_key_path, info.private_key_data) as key,
    ):
        if cert is not None:
            context.load_cert_chain(cert, key)
    return context


def _pem(data: str | bytes) -> bytes:
    """Kubeconfig *-data fields are base64 of PEM; accept raw PEM too."""
    raw = data.encode() if isinstance(data, str) else data
    return raw if raw.lstrip().startswith(b"-----BEGIN") else base64.b64decode(raw)


@contextlib.contextmanager
def _pem_file(
    path: str | bytes | os.PathLike[str] | os.PathLike[bytes] | None,
    data: str | bytes | None,
) -> Iterator[str | None]:
    """A file name for key material: ssl loads client certificates from files only."""
    if path:
        yield os.fsdecode(path)
        return
    if not data:
        yield None
        return
    fd, name = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(_pem(data))
        yield name
    finally:
        os.unlink(name)
