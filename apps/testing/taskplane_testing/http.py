"""Assertions on HTTP responses shared by every service's tests."""

from __future__ import annotations

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
