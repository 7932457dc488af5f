"""Assertions on HTTP responses shared by every service's tests."""

from __future__ import annotations

from typing import Any

import httpx


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
