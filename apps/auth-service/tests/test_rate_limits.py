"""Brute force on the token endpoint ends in 429 problem+json with Retry-After."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from taskplane_testing.http import assert_problem

Account = Callable[..., Awaitable[dict[str, Any]]]
PASSWORD = "correct horse battery staple"


def _limits(app: FastAPI, monkeypatch: pytest.MonkeyPatch, **limits: int) -> None:
    monkeypatch.setattr(app.state, "settings", app.state.settings.model_copy(update=limits))


async def _attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": email, "password": password})


async def test_failures_per_account_are_limited(
    app: FastAPI, client: httpx.AsyncClient, register: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limits(app, monkeypatch, login_max_failures_per_account=3)
    await register("target@example.com")
    for _ in range(3):
        assert_problem(await _attempt(client, "target@example.com", "guess-guess-guess"), 401)
    blocked = await _attempt(client, "target@example.com", PASSWORD)
    body = assert_problem(blocked, 429)
    assert body["type"].endswith("/rate-limited")
    assert 1 <= int(blocked.headers["retry-after"]) <= app.state.settings.login_window_s
    # Unknown accounts are limited the same way: the 429 is no existence oracle.
    for _ in range(3):
        await _attempt(client, "ghost@example.com", "guess-guess-guess")
    assert_problem(await _attempt(client, "ghost@example.com", "guess-guess-guess"), 429)
    # Other accounts are unaffected.
    await register("bystander@example.com")
    assert (await _attempt(client, "bystander@example.com", PASSWORD)).status_code == 200


async def test_attempts_per_client_address_are_limited(
    app: FastAPI, client: httpx.AsyncClient, register: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limits(app, monkeypatch, login_max_attempts_per_address=5)
    await register("spray@example.com")
    for i in range(5):
        assert_problem(await _attempt(client, f"user{i}@example.com", "guess-guess-guess"), 401)
    blocked = await _attempt(client, "spray@example.com", PASSWORD)
    assert_problem(blocked, 429)
    assert "retry-after" in blocked.headers


async def test_the_window_expires(
    app: FastAPI,
    client: httpx.AsyncClient,
    register: Account,
    db: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _limits(app, monkeypatch, login_max_failures_per_account=1)
    await register("patient@example.com")
    await _attempt(client, "patient@example.com", "guess-guess-guess")
    assert_problem(await _attempt(client, "patient@example.com", PASSWORD), 429)
    db.execute("UPDATE auth.rate_limits SET window_start = window_start - interval '1 hour'")
    assert (await _attempt(client, "patient@example.com", PASSWORD)).status_code == 200
