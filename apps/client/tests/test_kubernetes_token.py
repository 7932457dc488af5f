"""A pod's projected ServiceAccount token: exchanged at the auth-service, read again at
every exchange (the kubelet rotates it), chosen by configuration alone.

The auth-service here is a stand-in of its exchange endpoint only, over real HTTP: the
verification of the ServiceAccount token is the auth-service's own tests' business.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from taskplane_client import RetryPolicy, TaskplaneClient, TokenExchangeError, calls
from taskplane_client.auth import (
    KUBERNETES_EXCHANGE_PATH,
    TOKEN_FILE_ENV,
    KubernetesTokenAuth,
    ServiceTokenAuth,
    auth_for,
)
from taskplane_client.transport import nothing

QUEUE_PATH = "/api/v1/queues/jobs"


@dataclass
class AuthStandIn:
    """Exchanges any ServiceAccount token it is shown for a fresh access token, and
    answers QUEUE_PATH only with the latest one."""

    expires_in: int = 900
    refuse: bool = False
    presented: list[str] = field(default_factory=list)
    url: str = ""

    @property
    def current_access(self) -> str:
        return f"access-{len(self.presented)}"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads what was presented, not a log."""

            def _answer(self, status: int, body: object = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                if self.path != KUBERNETES_EXCHANGE_PATH:
                    self._answer(404, {"detail": "not found"})
                    return
                length = int(self.headers.get("Content-Length", "0"))
                token = json.loads(self.rfile.read(length))["token"]
                if stand_in.refuse:
                    self._answer(401, {"detail": "token refused"})
                    return
                stand_in.presented.append(token)
                self._answer(
                    200,
                    {
                        "access_token": stand_in.current_access,
                        "token_type": "bearer",
                        "expires_in": stand_in.expires_in,
                    },
                )

            def do_GET(self) -> None:
                expected = f"Bearer {stand_in.current_access}"
                if self.path != QUEUE_PATH or self.headers.get("Authorization") != expected:
                    self._answer(401, {"detail": "missing or stale access token"})
                    return
                self._answer(200, {})

        return Handler


@pytest.fixture
def auth_service() -> Iterator[AuthStandIn]:
    stand_in = AuthStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), stand_in.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "serviceaccount" / "token"
    path.parent.mkdir()
    path.write_text("sa-jwt-1\n")
    return path


def _client(auth_service: AuthStandIn) -> TaskplaneClient:
    """Configured only by URLs; the token file comes from the environment."""
    return TaskplaneClient(
        auth_service.url, auth_url=auth_service.url, retry=RetryPolicy(attempts=1), timeout_s=30
    )


def _read_queue(client: TaskplaneClient) -> None:
    client.send(calls.get_queue("jobs").reading(nothing))


def test_the_token_file_in_the_environment_is_exchanged_and_reread_as_it_rotates(
    auth_service: AuthStandIn, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_FILE_ENV, str(token_file))
    auth_service.expires_in = 0  # every call finds its access token due for renewal
    with _client(auth_service) as client:
        assert isinstance(client.auth, KubernetesTokenAuth)
        _read_queue(client)
        token_file.write_text("sa-jwt-2\n")  # what the kubelet does before expiry
        _read_queue(client)
    assert auth_service.presented == ["sa-jwt-1", "sa-jwt-2"]


def test_an_access_token_is_reused_until_it_is_due_then_renewed_after_a_401(
    auth_service: AuthStandIn, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_FILE_ENV, str(token_file))
    with _client(auth_service) as client:
        _read_queue(client)
        _read_queue(client)
        assert auth_service.presented == ["sa-jwt-1"]
        # The auth-service moved on (e.g. its key rotated): the 401 brings one new exchange.
        auth_service.presented.append("elsewhere")
        token_file.write_text("sa-jwt-3")
        _read_queue(client)
    assert auth_service.presented == ["sa-jwt-1", "elsewhere", "sa-jwt-3"]


def _exchange_error(auth_service: AuthStandIn, token_file: Path) -> str:
    """The TokenExchangeError a call raises with only ``token_file`` as its credential."""
    auth = KubernetesTokenAuth(token_file, auth_service.url)
    with (
        TaskplaneClient(auth_service.url, auth=auth, retry=RetryPolicy(attempts=1)) as client,
        pytest.raises(TokenExchangeError) as raised,
    ):
        _read_queue(client)
    return str(raised.value)


def test_a_refused_or_unreadable_token_is_a_token_exchange_error(
    auth_service: AuthStandIn, token_file: Path
) -> None:
    auth_service.refuse = True
    assert "refused the Kubernetes ServiceAccount token (401)" in _exchange_error(
        auth_service, token_file
    )
    auth_service.refuse = False
    token_file.unlink()
    assert "cannot read the ServiceAccount token" in _exchange_error(auth_service, token_file)
    assert auth_service.presented == []


def test_precedence_token_file_then_token_then_default_file(
    token_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = "http://auth-service:8001"
    monkeypatch.delenv(TOKEN_FILE_ENV, raising=False)
    monkeypatch.setattr("taskplane_client.auth.DEFAULT_TOKEN_FILE", str(tmp_path / "absent"))
    assert auth_for(None, url) is None
    assert isinstance(auth_for("tps_abc", url), ServiceTokenAuth)

    monkeypatch.setattr("taskplane_client.auth.DEFAULT_TOKEN_FILE", str(token_file))
    assert isinstance(auth_for("tps_abc", url), ServiceTokenAuth)  # TASKPLANE_TOKEN wins
    default = auth_for(None, url)
    assert isinstance(default, KubernetesTokenAuth)
    assert default.token_file == token_file

    monkeypatch.setenv(TOKEN_FILE_ENV, str(tmp_path / "explicit"))
    chosen = auth_for("tps_abc", url)  # an explicit token file wins over TASKPLANE_TOKEN
    assert isinstance(chosen, KubernetesTokenAuth)
    assert chosen.token_file == tmp_path / "explicit"

    with pytest.raises(ValueError, match="TASKPLANE_AUTH_URL"):
        auth_for(None, None)
