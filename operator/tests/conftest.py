"""Fixtures for the operator tests.

- ``crd``/``tq_schema``/``admit``: the one CRD file, and an admission step that does what
  the API server does with it (structural defaults, OpenAPI validation, CEL rules).
- ``task_service``: the §5 queue API as an in-process fake (FastAPI on uvicorn, real
  HTTP on 127.0.0.1) whose depth the test sets; fast, and it can fake an outage.
- ``real_task_service``: the real task-service (``python -m task_service serve``) on the
  session's PostgreSQL, with authentication on: ES256 tokens from TokenFactory, whose
  JWKS and service-token exchange a small in-process stand-in for the auth-service serves.
- ``kube``: kmock's KubernetesEmulator serving the CRD, plus a kubectl-like client;
  ``Queues`` creates TaskQueues in a fresh namespace and reads their children.
- ``operator_process`` / ``start_operator``: the real operator, ``python -m
  taskplane_operator``, as a subprocess, configured only through its environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import json
import os
import socket
import sys
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import kmock
import pytest
import uvicorn
import yaml
from fastapi import FastAPI, Request, Response

from taskplane_common.testing.postgres import PostgresServer
from taskplane_common.testing.tokens import TokenFactory, bearer

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "charts/taskplane/charts/operator/crds/taskqueues.taskplane.io.yaml"
SAMPLES_DIR = ROOT / "k8s/samples"
TQ_PATH = "/apis/taskplane.io/v1alpha1/namespaces/{ns}/taskqueues"

# ---------------------------------------------------------------------------------------
# The CRD and an admission step equivalent to the API server's for it.
# ---------------------------------------------------------------------------------------


def _is_url(value: str) -> bool:
    parsed = urllib.parse.urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.hostname)


# Python twins of every CEL rule in the CRD, keyed by the exact rule text; a schema test
# fails when the CRD gains a rule without a twin here. Arguments: (self, oldSelf | None).
CEL_TWINS: dict[str, Callable[[Any, Any], bool]] = {
    "size(self.metadata.name) <= 56": lambda s, _: len(s["metadata"]["name"]) <= 56,
    "(has(self.queueName) ? self.queueName : '') == (has(oldSelf.queueName) ? "
    "oldSelf.queueName : '')": lambda s, o: s.get("queueName", "") == o.get("queueName", ""),
    "!has(self.replicas) || (self.replicas >= self.scaling.minReplicas && "
    "self.replicas <= self.scaling.maxReplicas)": lambda s, _: (
        "replicas" not in s
        or s["scaling"]["minReplicas"] <= s["replicas"] <= s["scaling"]["maxReplicas"]
    ),
    "!self.startsWith('http') || isURL(self)": lambda s, _: not s.startswith("http") or _is_url(s),
    "self.all(e, !e.name.startsWith('TASKPLANE_'))": lambda s, _: all(
        not e["name"].startswith("TASKPLANE_") for e in s
    ),
    "self.all(c, c.name != 'worker')": lambda s, _: all(c["name"] != "worker" for c in s),
    "self.minReplicas <= self.maxReplicas": lambda s, _: s["minReplicas"] <= s["maxReplicas"],
    "self.backoffBaseSeconds <= self.backoffMaxSeconds": lambda s, _: (
        s["backoffBaseSeconds"] <= s["backoffMaxSeconds"]
    ),
}


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

    def __call__(self, obj: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
        """Default, then validate (OpenAPI and CEL); returns the defaulted object."""
        obj = apply_defaults(self.schema, copy.deepcopy(obj))
        errors = sorted(
            jsonschema.Draft4Validator(to_jsonschema(self.schema)).iter_errors(obj), key=str
        )
        if errors:
            raise AdmissionError("; ".join(e.message for e in errors))
        for rule in cel_rules(self.schema):
            present, value = _at(obj, rule.path)
            if not present:
                continue
            old_present, old_value = _at(old, rule.path) if old is not None else (False, None)
            if rule.transition and not old_present:
                continue
            if not CEL_TWINS[rule.rule](value, old_value):
                raise AdmissionError(rule.message)
        return obj


@pytest.fixture(scope="session")
def crd() -> dict[str, Any]:
    with CRD_PATH.open() as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


@pytest.fixture(scope="session")
def tq_schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.fixture(scope="session")
def admit(tq_schema: dict[str, Any]) -> Admission:
    return Admission(tq_schema)


def taskqueue(name: str, namespace: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "taskplane.io/v1alpha1",
        "kind": "TaskQueue",
        "metadata": {"name": name, "namespace": namespace},
        "spec": copy.deepcopy(dict(spec)),
    }


# ---------------------------------------------------------------------------------------
# The task-service (§5 queue API).
# ---------------------------------------------------------------------------------------


@dataclass
class FakeTaskService:
    """The queue endpoints of §5 with depth set by the test, over real HTTP."""

    token: str
    url: str = ""
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    outage: bool = False
    delete_supported: bool = True

    def app(self) -> FastAPI:
        app = FastAPI()

        def guard(request: Request) -> Response | None:
            auth = request.headers.get("authorization")
            self.requests.append((request.method, request.url.path, auth))
            if self.outage:
                return problem(503, "database unavailable")
            if auth != f"Bearer {self.token}":
                return problem(401, "missing or invalid token")
            return None

        @app.put("/api/v1/queues/{queue}")
        async def put_queue(queue: str, request: Request) -> Response:
            if (denied := guard(request)) is not None:
                return denied
            self.queues[queue] = await request.json()
            self.stats.setdefault(queue, empty_stats())
            return Response(status_code=200, content=b"{}", media_type="application/json")

        @app.get("/api/v1/queues/{queue}")
        async def get_queue(queue: str, request: Request) -> Any:
            if (denied := guard(request)) is not None:
                return denied
            if queue not in self.queues:
                return problem(404, "queue not found")
            return self.stats[queue]

        @app.delete("/api/v1/queues/{queue}")
        async def delete_queue(queue: str, request: Request) -> Response:
            if (denied := guard(request)) is not None:
                return denied
            if not self.delete_supported:
                return problem(405, "method not allowed")
            if self.queues.pop(queue, None) is None:
                return problem(404, "queue not found")
            self.stats.pop(queue, None)
            return Response(status_code=204)

        return app

    async def set_depth(
        self, queue: str, available: int = 0, in_flight: int = 0, retrying: int = 0
    ) -> None:
        stats = self.stats.setdefault(queue, empty_stats())
        stats.update(available=available, in_flight=in_flight, retrying=retrying)
        stats["oldest_available_age_s"] = 1.5 if available else None

    async def queue_config(self, queue: str) -> dict[str, Any] | None:
        return self.queues.get(queue)


def empty_stats() -> dict[str, Any]:
    return {
        "available": 0,
        "scheduled": 0,
        "in_flight": 0,
        "retrying": 0,
        "dead": 0,
        "oldest_available_age_s": None,
        "completed_total": 0,
        "failed_total": 0,
    }


def problem(status: int, detail: str) -> Response:
    body = f'{{"type":"about:blank","title":"error","status":{status},"detail":"{detail}"}}'
    return Response(status_code=status, content=body, media_type="application/problem+json")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve_app(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` in this event loop on a free 127.0.0.1 port; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110  (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await serving
        sock.close()


@pytest.fixture(scope="session")
async def task_service() -> AsyncIterator[FakeTaskService]:
    """The fake task-service: depth set by the test (see ``real_task_service`` too)."""
    fake = FakeTaskService(token=f"svc-{uuid.uuid4().hex}")
    async with serve_app(fake.app()) as url:
        fake.url = url
        yield fake


# ---------------------------------------------------------------------------------------
# The real task-service, with authentication on.
# ---------------------------------------------------------------------------------------


@dataclass
class AuthStandIn:
    """What the operator and the task-service need from the auth-service: the JWKS that
    verifies access tokens, and the exchange of service tokens (``tps_…``) for them.

    Tokens are real ES256 JWTs from TokenFactory; only the service-token store is faked
    (one known token, exchanged for an access token with its scopes).
    """

    tokens: TokenFactory
    service_tokens: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exchanges: list[str] = field(default_factory=list)
    url: str = ""

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/.well-known/jwks.json"

    def issue_service_token(self, *scopes: str) -> str:
        token = f"tps_{uuid.uuid4().hex}"
        self.service_tokens[token] = scopes
        return token

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/jwks.json")
        async def jwks() -> dict[str, Any]:
            return self.tokens.jwks()

        @app.post("/api/v1/auth/service-token")
        async def exchange(request: Request) -> Response:
            token = str((await request.json()).get("token", ""))
            self.exchanges.append(token)
            if token not in self.service_tokens:
                return problem(401, "the service token is invalid, expired or revoked")
            access = self.tokens.service_token(*self.service_tokens[token])
            body = {"access_token": access, "token_type": "bearer", "expires_in": 900}
            return Response(content=json.dumps(body), media_type="application/json")

        return app


@dataclass
class RealTaskService:
    """The real task-service over HTTP, with a token per role the tests play."""

    url: str
    auth: AuthStandIn
    log_path: Path
    #: The operator's credential: a service token it must exchange (scope queues:admin).
    token: str = ""
    producer_token: str = ""  # a member: enqueues
    worker_token: str = ""  # a service with queues:work: leases and completes

    def __post_init__(self) -> None:
        self.token = self.auth.issue_service_token("queues:admin")
        self.producer_token = self.auth.tokens.token(roles=["member"])
        self.worker_token = self.auth.tokens.service_token("queues:work")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def _call(
        self, method: str, path: str, token: str, body: Any = None, expect: Sequence[int] = (200,)
    ) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            response = await http.request(method, path, json=body, headers=bearer(token))
        assert response.status_code in expect, (method, path, response.text)
        return response

    async def queue(self, queue: str) -> dict[str, Any] | None:
        """``GET /api/v1/queues/{queue}``: config and stats, None when not registered."""
        response = await self._call(
            "GET", f"/api/v1/queues/{queue}", self.producer_token, expect=(200, 404)
        )
        if response.status_code == 404:
            return None
        result: dict[str, Any] = response.json()
        return result

    async def queue_config(self, queue: str) -> dict[str, Any] | None:
        found = await self.queue(queue)
        return None if found is None else dict(found["config"])

    async def enqueue(self, queue: str, count: int) -> list[str]:
        """``count`` tasks in one request, as a member would; their ids."""
        body = {"tasks": [{"payload": {"n": n}} for n in range(count)]}
        response = await self._call(
            "POST", f"/api/v1/queues/{queue}/tasks", self.producer_token, body, expect=(201,)
        )
        return [task["id"] for task in response.json()["tasks"]]

    async def lease(self, queue: str, max_tasks: int) -> list[str]:
        """Lease as a worker would (no waiting); the lease ids."""
        body = {"worker_id": "e2e-worker", "max_tasks": max_tasks, "wait_s": 0}
        response = await self._call(
            "POST", f"/api/v1/queues/{queue}/leases", self.worker_token, body
        )
        return [task["lease_id"] for task in response.json()["tasks"]]

    async def complete(self, lease_ids: Sequence[str]) -> None:
        for lease_id in lease_ids:
            await self._call(
                "POST", f"/api/v1/leases/{lease_id}/complete", self.worker_token, {"result": "ok"}
            )


async def _run_logged(argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> int:
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(*argv, env=dict(env), stdout=log, stderr=log)
    return await asyncio.wait_for(process.wait(), timeout=60)


@pytest.fixture(scope="module")
async def real_task_service(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RealTaskService]:
    """``python -m task_service migrate`` then ``serve`` on a free port, authentication on."""
    auth = AuthStandIn(TokenFactory())
    log_path = tmp_path_factory.mktemp("task-service") / "task-service.log"
    port = free_port()
    async with serve_app(auth.app()) as auth_url:
        auth.url = auth_url
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TASKPLANE_", "OTEL_"))},
            "DATABASE_URL": postgres_server.create_database("operator_e2e"),
            "TASKPLANE_ENVIRONMENT": "development",
            "TASKPLANE_AUTH_DISABLED": "false",
            "TASKPLANE_JWKS_URL": auth.jwks_url,
            "TASKPLANE_LOG_LEVEL": "WARNING",
            "OTEL_SDK_DISABLED": "true",
        }
        migrate = [sys.executable, "-m", "task_service", "migrate"]
        assert await _run_logged(migrate, env, log_path) == 0, log_path.read_text()
        with log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "task_service", "serve"),
                *("--host", "127.0.0.1", "--port", str(port)),
                env=env,
                stdout=log,
                stderr=log,
            )
        service = RealTaskService(f"http://127.0.0.1:{port}", auth, log_path)

        async def ready() -> bool:
            if process.returncode is not None:
                raise AssertionError(f"task-service exited early:\n{service.log()}")
            try:
                async with httpx.AsyncClient(timeout=1) as client:
                    return (await client.get(f"{service.url}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            await eventually(ready, within=30, interval=0.2)
            yield service
        finally:
            await stop_process(process)


# ---------------------------------------------------------------------------------------
# Kubernetes: kmock's emulator with the CRD, and a kubectl-like client for the tests.
# ---------------------------------------------------------------------------------------


def resource_info(crd: Mapping[str, Any]) -> kmock.ResourceInfo:
    """Discovery information for the custom resource, taken from the CRD itself."""
    names = crd["spec"]["names"]
    version = crd["spec"]["versions"][0]
    return kmock.ResourceInfo(
        kind=names["kind"],
        singular=names["singular"],
        namespaced=crd["spec"]["scope"] == "Namespaced",
        shortnames=set(names.get("shortNames", [])),
        categories=set(names.get("categories", [])),
        subresources=set(version.get("subresources", {})),
        verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
    )


@dataclass
class Kube:
    """What kubectl plus the API server's bookkeeping would do, over HTTP to kmock."""

    emulator: kmock.KubernetesEmulator
    http: httpx.AsyncClient
    admit: Admission

    async def get(self, path: str) -> dict[str, Any] | None:
        response = await self.http.get(path)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def create_tq(self, obj: dict[str, Any], *, admit: bool = True) -> dict[str, Any]:
        obj = self.admit(obj) if admit else copy.deepcopy(obj)
        obj["metadata"].update(
            uid=str(uuid.uuid4()),
            generation=1,
            resourceVersion="1",  # kmock keeps it; kopf's JSON patches test for it
            creationTimestamp=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        response = await self.http.post(TQ_PATH.format(ns=obj["metadata"]["namespace"]), json=obj)
        response.raise_for_status()
        return obj

    async def patch_spec(self, ns: str, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """A spec change: admission of the merged object, then generation + 1."""
        path = f"{TQ_PATH.format(ns=ns)}/{name}"
        old = await self.get(path)
        assert old is not None
        new = copy.deepcopy(old)
        merge(new["spec"], changes)
        new = self.admit(new, old)
        patch = {
            "spec": new["spec"],
            "metadata": {"generation": int(old["metadata"].get("generation", 1)) + 1},
        }
        response = await self.http.patch(
            path, json=patch, headers={"Content-Type": "application/merge-patch+json"}
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def delete(self, path: str) -> None:
        response = await self.http.delete(path)
        if response.status_code != 404:
            response.raise_for_status()

    async def events(self, ns: str) -> list[dict[str, Any]]:
        """Events as posted: kmock keeps one object per name and ignores generateName,
        so the request log, not the stored objects, holds every Event kopf sent."""
        return [request.data for request in self.emulator[f"post /api/v1/namespaces/{ns}/events"]]


def merge(target: dict[str, Any], changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


@pytest.fixture(scope="module")
async def kube(crd: dict[str, Any], admit: Admission) -> AsyncIterator[Kube]:
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        emulator.resources.load_bundled()
        group, version = crd["spec"]["group"], crd["spec"]["versions"][0]["name"]
        emulator.resources[f"{group}/{version}/{crd['spec']['names']['plural']}"] = resource_info(
            crd
        )
        emulator.resources["monitoring.coreos.com/v1/podmonitors"] = kmock.ResourceInfo(
            kind="PodMonitor", singular="podmonitor", namespaced=True, verbs={"get", "create"}
        )
        async with httpx.AsyncClient(base_url=str(server.url).rstrip("/"), timeout=10) as http:
            response = await http.post(
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd
            )
            response.raise_for_status()
            yield Kube(emulator, http, admit)


async def eventually(
    check: Callable[[], Awaitable[Any]], within: float = 10.0, interval: float = 0.1
) -> Any:
    """Poll ``check`` until it returns something truthy; the last value or a timeout."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s (last: {value!r})")
        await asyncio.sleep(interval)


@pytest.fixture(scope="session")
def wait_for() -> Callable[..., Awaitable[Any]]:
    return eventually


WaitFor = Callable[..., Awaitable[Any]]


def tq_path(ns: str, name: str) -> str:
    return f"/apis/taskplane.io/v1alpha1/namespaces/{ns}/taskqueues/{name}"


def child_path(kind: str, ns: str, name: str) -> str:
    prefix = {
        "deployments": "/apis/apps/v1",
        "serviceaccounts": "/api/v1",
        "poddisruptionbudgets": "/apis/policy/v1",
        "podmonitors": "/apis/monitoring.coreos.com/v1",
    }[kind]
    return f"{prefix}/namespaces/{ns}/{kind}/{name}-worker"


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for item in ((obj or {}).get("status") or {}).get("conditions", []):
        if item["type"] == type_:
            return dict(item)
    return {}


class Queues:
    """Creates TaskQueues in a fresh namespace (its fixture deletes them after the test);
    every one polls each ``poll_s`` and stabilizes scale-down over ``window_s``."""

    def __init__(
        self, kube: Kube, wait_for: WaitFor, *, poll_s: float = 1.0, window_s: int = 3
    ) -> None:
        self.kube, self.wait_for = kube, wait_for
        self.poll_s, self.window_s = poll_s, window_s
        self.ns = f"e2e-{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []

    async def create(self, name: str, *, admit: bool = True, **spec: Any) -> dict[str, Any]:
        body = {
            "worker": {"handler": "builtin:noop"},
            "scaling": {
                "minReplicas": 0,
                "maxReplicas": 5,
                "targetTasksPerReplica": 2,
                "pollIntervalSeconds": int(self.poll_s),
                "scaleDownStabilizationSeconds": self.window_s,
            },
            **spec,
        }
        obj = {
            "apiVersion": "taskplane.io/v1alpha1",
            "kind": "TaskQueue",
            "metadata": {"name": name, "namespace": self.ns},
            "spec": body,
        }
        self.created.append(name)
        return await self.kube.create_tq(obj, admit=admit)

    def queue(self, name: str) -> str:
        return f"{self.ns}.{name}"

    async def tq(self, name: str) -> dict[str, Any] | None:
        return await self.kube.get(tq_path(self.ns, name))

    async def deployment(self, name: str) -> dict[str, Any] | None:
        return await self.kube.get(child_path("deployments", self.ns, name))

    async def replicas(self, name: str) -> int | None:
        deployment = await self.deployment(name)
        return None if deployment is None else int(deployment["spec"]["replicas"])

    async def wait_replicas(self, name: str, expected: int, within: float = 5.0) -> float:
        """Seconds until the worker Deployment asks for ``expected`` replicas."""
        started = time.monotonic()

        async def reached() -> bool:
            return await self.replicas(name) == expected

        await self.wait_for(reached, within=within, interval=0.05)
        return time.monotonic() - started

    async def wait_condition(
        self, name: str, type_: str, status: str, within: float = 5.0
    ) -> dict[str, Any]:
        async def matches() -> dict[str, Any] | None:
            found = condition(await self.tq(name), type_)
            return found if found.get("status") == status else None

        result: dict[str, Any] = await self.wait_for(matches, within=within)
        return result

    async def pods_ready(self, name: str, count: int) -> None:
        """What the Deployment controller and kubelet would report (kmock has neither)."""
        response = await self.kube.http.patch(
            child_path("deployments", self.ns, name) + "/status",
            json={"status": {"replicas": count, "readyReplicas": count}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        response.raise_for_status()

    async def event_reasons(self, name: str) -> list[str]:
        return [
            event["reason"]
            for event in await self.kube.events(self.ns)
            if event.get("involvedObject", {}).get("name") == name
        ]


async def marked_for_deletion(queues: Queues, name: str) -> bool:
    obj = await queues.tq(name)
    return bool(obj and obj["metadata"].get("deletionTimestamp"))


async def gone(queues: Queues, name: str) -> bool:
    return await queues.tq(name) is None


# ---------------------------------------------------------------------------------------
# The operator as a subprocess.
# ---------------------------------------------------------------------------------------


@dataclass
class OperatorProcess:
    process: asyncio.subprocess.Process
    health_url: str
    metrics_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory, kube: Kube) -> Path:
    path = tmp_path_factory.mktemp("kube") / "config"
    server = str(kube.http.base_url).rstrip("/")
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "kmock",
                "clusters": [{"name": "kmock", "cluster": {"server": server}}],
                "users": [{"name": "operator", "user": {"token": "kmock-token"}}],
                "contexts": [
                    {"name": "kmock", "context": {"cluster": "kmock", "user": "operator"}}
                ],
            }
        )
    )
    return path


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL after 15 s; only the process this test session started."""
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=15)
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def start_operator(
    kubeconfig: Path, log_dir: Path, **settings: str
) -> AsyncIterator[OperatorProcess]:
    """``python -m taskplane_operator`` with ``TASKPLANE_<NAME>`` from ``settings`` (plus
    test defaults), healthy before it is yielded, stopped after."""
    health, metrics = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TASKPLANE_")},
        "KUBECONFIG": str(kubeconfig),
        "TASKPLANE_WORKER_IMAGE": "registry.example/taskplane-worker:test",
        "TASKPLANE_HEALTH_PORT": str(health),
        "TASKPLANE_METRICS_PORT": str(metrics),
        "TASKPLANE_LOG_FORMAT": "plain",
        "TASKPLANE_REQUEST_TIMEOUT_S": "2",
        **{f"TASKPLANE_{name.upper()}": value for name, value in settings.items()},
    }
    log_path = log_dir / "operator.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "taskplane_operator", env=env, stdout=log, stderr=log
        )
    operator = OperatorProcess(
        process,
        f"http://127.0.0.1:{health}/healthz",
        f"http://127.0.0.1:{metrics}/metrics",
        log_path,
    )

    async def healthy() -> bool:
        if process.returncode is not None:
            raise AssertionError(f"operator exited early:\n{operator.log()}")
        try:
            async with httpx.AsyncClient(timeout=1) as client:
                return (await client.get(operator.health_url)).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        await eventually(healthy, within=30, interval=0.2)
        yield operator
    finally:
        await stop_process(process)


@pytest.fixture(scope="module")
async def operator_process(
    kube: Kube,
    task_service: FakeTaskService,
    kubeconfig: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[OperatorProcess]:
    """The operator against the fake task-service, with PodMonitors enabled."""
    async with start_operator(
        kubeconfig,
        tmp_path_factory.mktemp("operator"),
        api_url=task_service.url,
        token=task_service.token,
        monitoring_enabled="true",
    ) as operator:
        yield operator
