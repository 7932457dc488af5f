"""The task-service for the operator tests: an in-process fake of the queue endpoints
(FastAPI on uvicorn, real HTTP) whose depth the test sets and which can fake an outage,
and the real task-service process with a stand-in for the auth-service. Both also serve
the auth-service's workload-binding endpoints (``WorkloadBindings``), the one thing of
the auth-service the operator writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from taskplane_common.revocations import REVOCATIONS_PATH
from taskplane_common.websocket_protocol import DenialCompletingWebSocketsProtocol
from taskplane_testing.postgres import PostgresServer, free_port
from taskplane_testing.tokens import TokenFactory, bearer
from taskplane_testing.waiting import eventually, stop_process

Probe = Callable[[], Awaitable[Any]]


BINDING_PATH = "/api/v1/admin/workload-bindings/{namespace}/{service_account}"
Guard = Callable[[Request], Response | None]


@dataclass
class WorkloadBindings:
    """``PUT``/``DELETE /api/v1/admin/workload-bindings/{namespace}/{service_account}``
    as the auth-service's contract states them (both idempotent); ``bound`` is which
    queue each ServiceAccount's token would be accepted for."""

    bound: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (method, namespace, service account, Authorization header) per request.
    requests: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    #: (namespace, service account, ``service_account_uid``) per accepted PUT, in order.
    uids: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: Answer every DELETE with 503 (the auth-service failing the revocation).
    unbind_failing: bool = False

    def add_routes(self, app: FastAPI, guard: Guard) -> None:
        def admitted(namespace: str, service_account: str, request: Request) -> Response | None:
            """Record the request; the guard's refusal, if any."""
            auth = request.headers.get("authorization")
            self.requests.append((request.method, namespace, service_account, auth))
            return guard(request)

        @app.put(BINDING_PATH)
        async def bind(namespace: str, service_account: str, request: Request) -> Response:
            if (denied := admitted(namespace, service_account, request)) is not None:
                return denied
            sent = await request.json()
            queue = sent.get("queue")
            if not isinstance(queue, str) or not queue:
                return problem(422, "queue: a non-empty string is required")
            self.bound[(namespace, service_account)] = queue
            self.uids.append((namespace, service_account, sent.get("service_account_uid")))
            body = {"namespace": namespace, "service_account": service_account, "queue": queue}
            return Response(content=json.dumps(body), media_type="application/json")

        @app.delete(BINDING_PATH)
        async def unbind(namespace: str, service_account: str, request: Request) -> Response:
            if (denied := admitted(namespace, service_account, request)) is not None:
                return denied
            if self.unbind_failing:
                return problem(503, "database unavailable")
            self.bound.pop((namespace, service_account), None)
            return Response(status_code=204)

    def in_namespace(self, namespace: str) -> dict[str, str]:
        """ServiceAccount -> queue for every binding in ``namespace``."""
        return {sa: queue for (ns, sa), queue in self.bound.items() if ns == namespace}


@dataclass
class FakeTaskService:
    """The task-service queue endpoints with depth set by the test, over real HTTP."""

    token: str
    url: str = ""
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    outage: bool = False
    #: Answer every queue DELETE with 503 (a task-service failing the Delete policy).
    delete_failing: bool = False
    #: Per queue, a probe run at every stats read the operator makes, before the answer:
    #: what it returns is the cluster as it was when that poll read the depth. Polls
    #: are counted this way, not timed, so "within one poll" holds on a loaded machine.
    probes: dict[str, Probe] = field(default_factory=dict)
    probed: dict[str, list[Any]] = field(default_factory=dict)
    #: The auth-service's binding endpoints, served here too (the operator's auth URL).
    bindings: WorkloadBindings = field(default_factory=WorkloadBindings)

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
            return JSONResponse(self.queue_body(queue))

        @app.get("/api/v1/queues/{queue}")
        async def get_queue(queue: str, request: Request) -> Any:
            if (denied := guard(request)) is not None:
                return denied
            if queue not in self.queues:
                return problem(404, "queue not found")
            if (probe := self.probes.get(queue)) is not None:
                self.probed.setdefault(queue, []).append(await probe())
            return self.queue_body(queue)

        @app.delete("/api/v1/queues/{queue}")
        async def delete_queue(queue: str, request: Request) -> Response:
            if (denied := guard(request)) is not None:
                return denied
            if self.delete_failing:
                return problem(503, "database unavailable")
            if self.queues.pop(queue, None) is None:
                return problem(404, "queue not found")
            self.stats.pop(queue, None)
            return Response(status_code=204)

        self.bindings.add_routes(app, guard)
        return app

    def queue_body(self, queue: str) -> dict[str, Any]:
        """The whole Queue the task-service answers with: its stats, name and config."""
        return {"name": queue, "config": self.queues[queue], **self.stats[queue]}

    async def set_depth(
        self, queue: str, available: int = 0, in_flight: int = 0, retrying: int = 0
    ) -> None:
        stats = self.stats.setdefault(queue, empty_stats())
        stats.update(available=available, in_flight=in_flight, retrying=retrying)
        stats["oldest_available_age_s"] = 1.5 if available else 0.0

    async def queue_config(self, queue: str) -> dict[str, Any] | None:
        return self.queues.get(queue)

    def probe(self, queue: str, probe: Probe) -> None:
        """Run ``probe`` at each of the operator's stats reads of ``queue`` from now on."""
        self.probed[queue] = []
        self.probes[queue] = probe

    async def next_polls(self, queue: str, count: int) -> list[Any]:
        """What the probe saw at the next ``count`` polls (from now)."""
        start = len(self.probed.get(queue, []))

        async def enough() -> list[Any] | None:
            seen = self.probed.get(queue, [])[start:]
            return seen[:count] if len(seen) >= count else None

        result: list[Any] = await eventually(enough)
        return result


def empty_stats() -> dict[str, Any]:
    return {
        "available": 0,
        "scheduled": 0,
        "in_flight": 0,
        "retrying": 0,
        "dead": 0,
        "oldest_available_age_s": 0.0,
        "completed_total": 0,
        "failed_total": 0,
    }


def problem(status: int, detail: str) -> Response:
    body = f'{{"type":"about:blank","title":"error","status":{status},"detail":"{detail}"}}'
    return Response(status_code=status, content=body, media_type="application/problem+json")


@contextlib.asynccontextmanager
async def serve_app(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` in this event loop on a free 127.0.0.1 port; yields its base URL.
    Its WebSockets use the services' protocol (the real task-service above runs
    ``python -m task_service serve``, the production command line)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", ws=DenialCompletingWebSocketsProtocol
    )
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
    bindings: WorkloadBindings = field(default_factory=WorkloadBindings)
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

        @app.get(REVOCATIONS_PATH)
        async def revocations(since: int = 0) -> dict[str, Any]:
            return self.tokens.revocations(since)

        @app.post("/api/v1/auth/service-token")
        async def exchange(request: Request) -> Response:
            token = str((await request.json()).get("token", ""))
            self.exchanges.append(token)
            if token not in self.service_tokens:
                return problem(401, "the service token is invalid, expired or revoked")
            access = self.tokens.service_token(*self.service_tokens[token])
            body = {"access_token": access, "token_type": "bearer", "expires_in": 900}
            return Response(content=json.dumps(body), media_type="application/json")

        def exchanged_only(request: Request) -> Response | None:
            """Only an access token this stand-in issued may write bindings."""
            header = request.headers.get("authorization", "")
            if not header.startswith("Bearer ey"):
                return problem(401, "an access token is required")
            return None

        self.bindings.add_routes(app, exchanged_only)
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


@contextlib.asynccontextmanager
async def run_real_task_service(
    postgres_server: PostgresServer, log_dir: Path
) -> AsyncIterator[RealTaskService]:
    """``python -m task_service migrate`` then ``serve`` on a free port, authentication on."""
    auth = AuthStandIn(TokenFactory())
    log_path = log_dir / "task-service.log"
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
            await eventually(ready, interval=0.2)
            yield service
        finally:
            await stop_process(process)
