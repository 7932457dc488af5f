"""The console in Chromium against the real platform: what a person does in it, and the
security properties a browser client must keep (cookie, tokens, CSRF, roles)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import psycopg
from playwright.sync_api import Browser, Page, Request, expect

from taskplane_common.testing.processes import wait_until

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Console, new_context, sign_in

JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def member(console: Console, prefix: str = "member", role: str = "member") -> str:
    email = f"{unique(prefix)}@example.org"
    console.add_user(email, role)
    return email


def page_fetch(page: Page, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A same-origin fetch from the page, as the SPA makes it (CSRF header included)."""
    result: dict[str, Any] = page.evaluate(
        """async ([method, path, body]) => {
            const session = await (await fetch('/session')).json();
            const response = await fetch(path, {
                method,
                headers: {'content-type': 'application/json', 'x-csrf-token': session.csrf_token},
                body: body === null ? undefined : JSON.stringify(body),
            });
            return {status: response.status, text: await response.text()};
        }""",
        [method, path, body],
    )
    return result


def test_login_keeps_tokens_out_of_the_browser(browser: Browser, console: Console) -> None:
    context = new_context(browser, console)
    page = context.new_page()
    finished: list[Request] = []
    page.on("requestfinished", finished.append)
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/queues")
    expect(page.get_by_role("heading", name="Queues")).to_be_visible()

    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["tp_session"]
    assert session["httpOnly"] is True
    assert session["secure"] is True
    assert session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""
    storage = page.evaluate(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    bodies = [storage]
    for request in finished:
        response = request.response()
        if request.resource_type in ("fetch", "xhr") and response is not None:
            bodies.append(response.text())
    assert len(bodies) > 3, "the SPA made no API call"
    for body in bodies:
        assert not JWT.search(body)
        assert "access_token" not in body
        assert "refresh_token" not in body
        assert session["value"] not in body
    context.close()


def test_unsafe_calls_need_the_csrf_token_and_same_origin(
    browser: Browser, console: Console
) -> None:
    context = new_context(browser, console)
    page = context.new_page()
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    cookie = {"tp_session": next(c["value"] for c in context.cookies() if c["name"] == "tp_session")}
    task = {"title": "csrf probe"}
    with httpx.Client(base_url=console.url, cookies=cookie, timeout=30) as client:
        assert client.get("/api/v1/tasks").status_code == 200
        missing = client.post("/api/v1/tasks", json=task)
        assert missing.status_code == 403
        assert missing.headers["content-type"].startswith("application/problem+json")
        csrf = client.get("/session").json()["csrf_token"]
        foreign = client.post(
            "/api/v1/tasks",
            json=task,
            headers={"x-csrf-token": csrf, "origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        ok = client.post("/api/v1/tasks", json=task, headers={"x-csrf-token": csrf})
        assert ok.status_code == 201, ok.text
    context.close()
