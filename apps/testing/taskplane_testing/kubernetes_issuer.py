"""A Kubernetes ServiceAccount issuer over real HTTP for the tests: what kube-apiserver
serves (the OpenID discovery document, the JWKS with an RSA and a P-256 key, and the
TokenReview endpoint), and projected ServiceAccount tokens shaped like its own."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from taskplane_testing.http import serve as serve_http

OPERATOR = ("taskplane-system", "taskplane-operator")
WORKER = ("team-a", "emails-worker")
NOTIFIER = ("taskplane-system", "taskplane-notification-service")
AUDIENCE = "taskplane"
TOKENREVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
OWN_TOKEN = "auth-service-own-serviceaccount-token"


@dataclass
class ClusterIssuer:
    """A Kubernetes ServiceAccount issuer over real HTTP: discovery, JWKS, TokenReview."""

    keys: dict[str, tuple[str, Any]] = field(default_factory=dict)
    #: ServiceAccounts that exist (TokenReview refuses the tokens of any other).
    accounts: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    url: str = ""
    #: ``metadata.uid`` of each ServiceAccount, ``namespace/name`` -> uid.
    uids: dict[str, str] = field(default_factory=dict)

    def uid(self, namespace: str, name: str) -> str:
        return self.uids.setdefault(f"{namespace}/{name}", str(uuid.uuid4()))

    def recreate(self, namespace: str, name: str) -> None:
        """Delete the ServiceAccount and create it again: same name, new uid."""
        self.uids[f"{namespace}/{name}"] = str(uuid.uuid4())

    def __post_init__(self) -> None:
        self.keys["rsa-1"] = (
            "RS256",
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
        )
        self.keys["ec-1"] = ("ES256", ec.generate_private_key(ec.SECP256R1()))

    def jwks(self) -> dict[str, Any]:
        published = []
        for kid, (alg, key) in self.keys.items():
            codec = RSAAlgorithm if alg == "RS256" else ECAlgorithm
            jwk = json.loads(codec.to_jwk(key.public_key()))
            published.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
        return {"keys": published}

    def token(
        self,
        namespace: str,
        name: str,
        *,
        kid: str = "rsa-1",
        audience: str = AUDIENCE,
        issuer: str | None = None,
        expires_in: int = 600,
        signing_key: Any = None,
    ) -> str:
        """A projected ServiceAccount token as kube-apiserver writes it."""
        alg, key = self.keys[kid]
        now = int(time.time())
        claims = {
            "aud": [audience],
            "exp": now + expires_in,
            "iat": now - 5,
            "nbf": now - 5,
            "iss": issuer or self.url,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {
                "namespace": namespace,
                "node": {"name": "kind-worker", "uid": str(uuid.uuid4())},
                "pod": {"name": f"{name}-7d9f8-abcde", "uid": str(uuid.uuid4())},
                "serviceaccount": {"name": name, "uid": self.uid(namespace, name)},
            },
            "sub": f"system:serviceaccount:{namespace}:{name}",
        }
        return jwt.encode(claims, signing_key or key, algorithm=alg, headers={"kid": kid})

    def review(self, body: dict[str, Any]) -> dict[str, Any]:
        """What kube-apiserver answers to a TokenReview."""
        spec = body["spec"]
        status: dict[str, Any] = {"authenticated": False}
        try:
            kid = jwt.get_unverified_header(spec["token"])["kid"]
            alg, key = self.keys[kid]
            claims = jwt.decode(
                spec["token"],
                key.public_key(),
                algorithms=[alg],
                audience=spec["audiences"],
                issuer=self.url,
            )
        except (jwt.PyJWTError, KeyError):
            return {**body, "status": status}
        if claims["sub"] in self.accounts:
            audiences = [a for a in spec["audiences"] if a in claims["aud"]]
            status = {
                "authenticated": True,
                "audiences": audiences,
                "user": {
                    "username": claims["sub"],
                    "uid": claims["kubernetes.io"]["serviceaccount"]["uid"],
                    "groups": ["system:serviceaccounts"],
                },
            }
        return {**body, "status": status}


def serve(issuer: ClusterIssuer) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, document: Any) -> None:
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            issuer.requests.append(self.path)
            if self.path == "/.well-known/openid-configuration":
                self._send(
                    200,
                    {
                        "issuer": issuer.url,
                        "jwks_uri": f"{issuer.url}/openid/v1/jwks",
                        "response_types_supported": ["id_token"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                    },
                )
            elif self.path == "/openid/v1/jwks":
                self._send(200, issuer.jwks())
            else:
                self._send(404, {"kind": "Status", "code": 404})

        def do_POST(self) -> None:
            issuer.requests.append(self.path)
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            if self.headers.get("authorization") != f"Bearer {OWN_TOKEN}":
                self._send(401, {"kind": "Status", "code": 401})
            elif self.path == TOKENREVIEW_PATH:
                self._send(201, issuer.review(body))
            else:
                self._send(404, {"kind": "Status", "code": 404})

        def log_message(self, *_: Any) -> None:
            return

    return serve_http(Handler)


@contextmanager
def running_issuer() -> Iterator[ClusterIssuer]:
    """The issuer on a free loopback port, knowing the operator, worker and notifier."""
    issuer = ClusterIssuer()
    server = serve(issuer)
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}"
    issuer.accounts = {
        f"system:serviceaccount:{ns}:{name}" for ns, name in (OPERATOR, WORKER, NOTIFIER)
    }
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
