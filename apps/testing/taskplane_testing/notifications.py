"""Real peers for the notification-service tests: a JWKS server for the test tokens, a
webhook receiver, an SMTP server (aiosmtpd) and the services as real processes."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from taskplane_testing.http import serve
from taskplane_testing.postgres import free_port
from taskplane_testing.tokens import TokenFactory


def json_server(answer: Callable[[str], tuple[int, str, Any]]) -> ThreadingHTTPServer:
    """Answers every GET with ``answer(path)``: (status, content type, JSON document)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, content_type, document = answer(self.path)
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            return

    return serve(Handler)


def jwks_server(tokens: TokenFactory) -> ThreadingHTTPServer:
    """Publishes the test signing keys (and revocation list) over real HTTP for the
    service processes."""
    return json_server(lambda path: (200, "application/json", tokens.document(path)))


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver. Paths choose the behaviour:

    ``/ok/...`` answers 204; ``/flaky/N/...`` answers 500 to the first N requests of each
    webhook-id, then 200; ``/hang/...`` answers only once :attr:`release` is set;
    ``/redirect?to=URL`` answers 302 to URL.
    """

    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    open_hanging: int = 0
    max_open_hanging: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the sender died mid-request: nothing was received
                record = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver.lock:
                    receiver.received.append(record)
                    seen = sum(1 for r in receiver.received if r.webhook_id == record.webhook_id)
                status = receiver._status(self.path, seen)
                if status is None:
                    return
                self.send_response(status)
                if status == 302:
                    self.send_header("location", self.path.split("to=", 1)[1])
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self.server = serve(Handler)
        return self

    def _status(self, path: str, seen: int) -> int | None:
        if path.startswith("/flaky/"):
            return 500 if seen <= int(path.split("/")[2]) else 200
        if path.startswith("/redirect"):
            return 302
        if path.startswith("/hang/"):
            with self.lock:
                self.open_hanging += 1
                self.max_open_hanging = max(self.max_open_hanging, self.open_hanging)
            self.release.wait(120)
            with self.lock:
                self.open_hanging -= 1
            return 200
        return 204

    def url(self, path: str) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()


class SmtpSink:
    """aiosmtpd on a free port, keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, Message]] = []
        sink = self

        class Handler:
            async def handle_DATA(  # noqa: N802 - the hook name aiosmtpd calls
                self, _server: SMTP, _session: Session, envelope: Envelope
            ) -> str:
                content = envelope.content
                assert isinstance(content, bytes)
                sink.messages.append((envelope, message_from_bytes(content)))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def to(self, address: str) -> list[Message]:
        return [m for e, m in self.messages if address in e.rcpt_tos]


PG_DUMP = "/usr/lib/postgresql/15/bin/pg_dump"


def assert_not_in_a_dump(db_url: str, *secrets: str) -> None:
    """``pg_dump`` of the notifications schema holds none of ``secrets`` in any form."""
    dump = subprocess.run(
        [PG_DUMP, "--data-only", "--schema=notifications", db_url],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    assert b"COPY notifications.webhooks" in dump
    for secret in secrets:
        for form in clear_forms(secret):
            assert form not in dump


def clear_forms(secret: str) -> list[bytes]:
    """Every way the secret could show in a dump: as text, its base64 body, its raw bytes
    in hex (bytea), in either case."""
    body = secret.removeprefix("whsec_")
    raw = base64.b64decode(body)
    return [secret.encode(), body.encode(), raw.hex().encode(), raw.hex().upper().encode()]
