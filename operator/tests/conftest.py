"""Fixtures for the operator tests; the helpers behind them live in
``taskplane_testing`` (apps/testing).

- ``crd``/``tq_schema``/``admit``: the one CRD file and an admission step that does what
  the API server does with it (structural defaults, OpenAPI validation, CEL rules run by
  a CEL engine).
- ``task_service``: the queue API as an in-process fake whose depth the test sets.
- ``real_task_service``: the real task-service on the session's PostgreSQL, auth on.
- ``kube``: kmock's KubernetesEmulator serving the CRD, plus a kubectl-like client; each
  module's emulator is also handed to ``operator_calls``.
- ``operator_calls``: the Kubernetes API calls the operator made in every module of the
  session, checked against the documented RBAC by a test the collection moves after the
  last test that uses an emulator.
- ``operator_process``: the real operator, ``python -m taskplane_operator``.
- ``queues``: TaskQueues created through the emulator, removed after each e2e test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from taskplane_testing.crd import CRD_PATH, Admission
from taskplane_testing.kube import Kube, Queues, run_emulator, tq_path, write_kubeconfig
from taskplane_testing.operator import OperatorProcess, start_operator
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.task_service import (
    FakeTaskService,
    RealTaskService,
    run_real_task_service,
    serve_app,
)
from taskplane_testing.waiting import POLL_S, WaitFor, eventually


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


@pytest.fixture(scope="session")
async def task_service() -> AsyncIterator[FakeTaskService]:
    """The fake task-service: depth set by the test (see ``real_task_service`` too)."""
    fake = FakeTaskService(token=f"svc-{uuid.uuid4().hex}")
    async with serve_app(fake.app()) as url:
        fake.url = url
        yield fake


@pytest.fixture(scope="module")
async def real_task_service(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RealTaskService]:
    async with run_real_task_service(
        postgres_server, tmp_path_factory.mktemp("task-service")
    ) as service:
        yield service


#: Verbs of kmock's recorded actions, as RBAC names them.
VERBS = {"FETCH": "get", "LIST": "list", "WATCH": "watch", "CREATE": "create", "UPDATE": "patch"}
#: The test that checks what ``operator_calls`` recorded, so it must run after all others.
RBAC_TEST = "test_operator_calls_stay_within_documented_rbac"


def operator_verbs(kube: Kube) -> dict[tuple[str, str], set[str]]:
    """The verbs the operator used per (API group, resource) on one emulator. kopf's
    discovery GETs (/api, /apis/...) need no rule and are left out."""
    used: dict[tuple[str, str], set[str]] = {}
    for request in kube.emulator:
        agent = request.headers.get("User-Agent", "")
        if not agent.startswith(("kopf/", "taskplane-operator")):
            continue
        if request.resource is None or request.resource.plural is None:
            continue  # discovery: /api, /apis/<group>[/<version>]
        plural = request.resource.plural
        if request.subresource:
            plural += f"/{request.subresource}"
        action = str(request.action).rsplit(".", 1)[-1]
        verb = VERBS.get(action, action.lower())  # an unlisted verb is one no rule grants
        used.setdefault((request.resource.group or "", plural), set()).add(verb)
    return used


@dataclass
class OperatorCalls:
    """Every module's emulator, each serving its own operator: what the operators asked of
    the Kubernetes API is read at check time, so requests sent after a module's last test
    (its teardown) count too."""

    emulators: dict[str, Kube] = field(default_factory=dict)

    def by_module(self) -> dict[str, dict[tuple[str, str], set[str]]]:
        return {module: operator_verbs(kube) for module, kube in self.emulators.items()}


@pytest.fixture(scope="session")
def operator_calls() -> OperatorCalls:
    return OperatorCalls()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The RBAC check goes right after the last test that uses an emulator, so it sees what
    every module's operator did."""
    checks = [item for item in items if item.name == RBAC_TEST]
    users = [i for i, item in enumerate(items) if "kube" in getattr(item, "fixturenames", ())]
    if not checks or not users:
        return
    last = items[users[-1]]
    for check in checks:
        items.remove(check)
    at = items.index(last) + 1
    items[at:at] = checks


@pytest.fixture(scope="module")
async def kube(
    crd: dict[str, Any],
    admit: Admission,
    operator_calls: OperatorCalls,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Kube]:
    async with run_emulator(crd, admit) as emulator:
        operator_calls.emulators[request.node.nodeid] = emulator
        yield emulator


@pytest.fixture(scope="session")
def wait_for() -> WaitFor:
    return eventually


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory, kube: Kube) -> Path:
    return write_kubeconfig(tmp_path_factory.mktemp("kube") / "config", kube)


@pytest.fixture(scope="module")
async def operator_process(
    kube: Kube,
    task_service: FakeTaskService,
    kubeconfig: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[OperatorProcess]:
    """The operator against the fake task-service (which serves the auth-service's
    binding endpoints too), with PodMonitors enabled."""
    async with start_operator(
        kubeconfig,
        tmp_path_factory.mktemp("operator"),
        api_url=task_service.url,
        auth_url=task_service.url,
        token=task_service.token,
        monitoring_enabled="true",
    ) as operator:
        yield operator


WINDOW_S = 3


@pytest.fixture
async def queues(
    kube: Kube,
    task_service: FakeTaskService,
    operator_process: OperatorProcess,
    wait_for: WaitFor,
) -> AsyncIterator[Queues]:
    helper = Queues(kube, wait_for, poll_s=POLL_S, window_s=WINDOW_S)
    yield helper
    task_service.outage = False
    for name in helper.created:
        await task_service.set_depth(helper.queue(name))
        await kube.delete(tq_path(helper.ns, name))
    assert operator_process.process.returncode is None, operator_process.log()[-4000:]


async def _configured(
    task_service: FakeTaskService, queue: str, **expected: Any
) -> dict[str, Any] | None:
    config = await task_service.queue_config(queue)
    return config if config and expected.items() <= config.items() else None


async def _scaled_up(
    queues: Queues, task_service: FakeTaskService, name: str, *, available: int, replicas: int
) -> None:
    """A TaskQueue whose queue holds `available` tasks, once the operator has scaled it."""
    await queues.create(name)
    await task_service.set_depth(queues.queue(name), available=available)
    await queues.wait_replicas(name, replicas)
