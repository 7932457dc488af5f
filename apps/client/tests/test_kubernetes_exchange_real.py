"""The ServiceAccount token path end to end with the real services: an operator identity
binds a worker ServiceAccount to one queue, the worker's projected token (a file, as the
kubelet writes it) works that queue and no other, survives a rotation, and is refused
once the binding is gone.

The cluster's ServiceAccount issuer is an in-test OIDC issuer over real HTTP (discovery
document and JWKS, ES256), so the auth-service runs its real verification.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from taskplane_client import (
    ForbiddenError,
    QueueConfig,
    RetryPolicy,
    TaskEnqueue,
    TaskplaneClient,
    TokenExchangeError,
)
from taskplane_client.auth import KubernetesTokenAuth
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import ServiceProcess

OPERATOR = ("taskplane", "taskplane-operator")
WORKER = ("team-a", "jobs-worker")
QUEUE = "team-a.jobs"


@dataclass
class Issuer:
    """What kube-apiserver serves for ServiceAccount token verification, and its signer."""

    key: ec.EllipticCurvePrivateKey
    url: str = ""

    def token(self, namespace: str, name: str) -> str:
        """A projected ServiceAccount token (audience taskplane) as the kubelet mounts it."""
        now = int(time.time())
        sub = f"system:serviceaccount:{namespace}:{name}"
        claims = {
            "aud": ["taskplane"],
            "exp": now + 600,
            "iat": now - 5,
            "nbf": now - 5,
            "iss": self.url,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {
                "namespace": namespace,
                # A ServiceAccount keeps its uid across token rotations.
                "serviceaccount": {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, sub))},
            },
            "sub": sub,
        }
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": "sa-1"})

    def documents(self) -> dict[str, Any]:
        jwk = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        return {
            "/.well-known/openid-configuration": {
                "issuer": self.url,
                "jwks_uri": f"{self.url}/openid/v1/jwks",
            },
            "/openid/v1/jwks": {"keys": [{**jwk, "kid": "sa-1", "alg": "ES256", "use": "sig"}]},
        }


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    served = Issuer(ec.generate_private_key(ec.SECP256R1()))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the auth-service's answers are what the tests read."""

        def do_GET(self) -> None:
            document = served.documents().get(self.path)
            payload = json.dumps(document or {"detail": "not found"}).encode()
            self.send_response(200 if document else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


@dataclass(frozen=True)
class Stack:
    auth: ServiceProcess
    tasks: ServiceProcess


@pytest.fixture(scope="module")
def stack(postgres_server: PostgresServer, issuer: Issuer) -> Iterator[Stack]:
    common = {
        "DATABASE_URL": postgres_server.create_database("client_kubernetes_exchange"),
        "TASKPLANE_ENVIRONMENT": "development",
        "TASKPLANE_LOG_LEVEL": "WARNING",
    }
    auth = ServiceProcess(
        "auth_service",
        {
            **common,
            "TASKPLANE_AUTH_KUBERNETES_ISSUER": issuer.url,
            "TASKPLANE_AUTH_KUBERNETES_OPERATORS": ":".join(OPERATOR),
        },
    )
    with auth:
        tasks = ServiceProcess(
            "task_service", {**common, "TASKPLANE_JWKS_URL": f"{auth.url}/.well-known/jwks.json"}
        )
        with tasks:
            yield Stack(auth, tasks)


def _client(stack: Stack, token_file: Path, renew_margin_s: float = 60) -> TaskplaneClient:
    """A pod's client: its URLs and its projected token file, nothing else."""
    return TaskplaneClient(
        stack.tasks.url,
        auth_url=stack.auth.url,
        auth=KubernetesTokenAuth(token_file, stack.auth.url, renew_margin_s),
        retry=RetryPolicy(attempts=1),
        timeout_s=30,
    )


def test_a_bound_worker_works_its_queue_only_until_the_binding_goes(
    stack: Stack, issuer: Issuer, tmp_path: Path
) -> None:
    operator_token, worker_token = tmp_path / "operator-token", tmp_path / "worker-token"
    operator_token.write_text(issuer.token(*OPERATOR))
    worker_token.write_text(issuer.token(*WORKER))

    with _client(stack, operator_token) as operator:
        for queue in (QUEUE, "team-b.other"):
            operator.put_queue(queue, QueueConfig())
        operator.put_workload_binding(*WORKER, QUEUE)
        operator.put_workload_binding(*WORKER, QUEUE)  # idempotent

    # A renewal margin beyond any lifetime: every call exchanges the file as it is then.
    with _client(stack, worker_token, renew_margin_s=86_400) as worker:
        worker.enqueue(QUEUE, TaskEnqueue(payload={"n": 1}))
        (task,) = worker.lease(QUEUE, "pod-1", max_tasks=1).tasks
        worker.complete(task, {"ok": True})
        with pytest.raises(ForbiddenError, match=QUEUE):
            worker.lease("team-b.other", "pod-1")

        worker_token.write_text(issuer.token(*WORKER))  # the kubelet rotated it
        assert worker.lease(QUEUE, "pod-1").tasks == []

    with _client(stack, operator_token) as operator:
        operator.delete_workload_binding(*WORKER)
        operator.delete_workload_binding(*WORKER)  # idempotent

    with _client(stack, worker_token) as worker, pytest.raises(TokenExchangeError):
        worker.lease(QUEUE, "pod-1")
