"""HTTP for every service's tests: assertions on responses, in-process clients, and
real servers on loopback ports."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from starlette.types import ASGIApp


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with ``status`` and leaks no internals."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == status
    for leak in ("Traceback", "sqlalchemy", "psycopg", "SELECT ", "127.0.0.1"):
        assert leak not in response.text, f"response leaks {leak!r}: {response.text}"
    return body


def asgi_client(app: ASGIApp, base_url: str = "http://service", **kwargs: Any) -> httpx.AsyncClient:
    """An HTTP client that calls ``app`` in process, answering errors as a server would.

    ``raise_app_exceptions=False``: an unhandled exception becomes the 500 problem+json
    the service really sends, instead of surfacing in the test.
    """
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=base_url, **kwargs)


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A real HTTP server on a loopback port the kernel picks at bind (no window for another
    process to take it), answering with ``handler`` from a daemon thread (and daemon
    request threads: a test never waits on it to exit)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class LoopbackServer:
    """A real HTTP server a test talks to at ``url`` until it is closed."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = serve(handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
