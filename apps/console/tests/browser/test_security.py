"""What a browser client must keep safe: the session cookie and tokens out of reach of
scripts, CSRF and same-origin checks on unsafe calls, what each role sees and may do,
and a sign-out that really ends the session."""

from __future__ import annotations

import json
import re

import httpx
from playwright.sync_api import BrowserContext, Request, expect

from taskplane_testing.platform import ADMIN_EMAIL, ADMIN_PASSWORD

from .conftest import Console, member, page_fetch, sign_in, unique

JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")


def test_login_keeps_tokens_out_of_the_browser(context: BrowserContext, console: Console) -> None:
    page = context.new_page()
    finished: list[Request] = []
    page.on("requestfinished", lambda request: finished.append(request))
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    # Client-side navigation: the document stays, so every response body stays readable.
    for link, heading in [("Queues", "Queues"), ("Webhooks", "Webhooks"), ("Admin", "Admin")]:
        page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        page.wait_for_timeout(500)

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


def test_unsafe_calls_need_the_csrf_token_and_same_origin(
    context: BrowserContext, console: Console
) -> None:
    page = context.new_page()
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    cookie = {
        "tp_session": next(c["value"] for c in context.cookies() if c["name"] == "tp_session")
    }
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


def test_members_see_their_own_and_no_admin_page(context: BrowserContext, console: Console) -> None:
    owner, other = member(console, "owner"), member(console, "other")
    secret_title = unique("private")
    made = console.api(
        "POST", "/api/v1/tasks", console.as_user(owner), json={"title": secret_title}
    )
    assert made.status_code == 201, made.text

    page = context.new_page()
    sign_in(page, other)
    expect(page.get_by_text("task(s) on this page")).to_be_visible()
    expect(page.get_by_text(secret_title)).to_have_count(0)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Admin")).to_have_count(0)
    expect(nav.get_by_role("link", name="Dead letters")).to_have_count(0)
    page.goto("/admin")
    expect(page.get_by_role("alert")).to_have_text("Only admins see this page.")
    assert page_fetch(page, "GET", "/api/v1/admin/users")["status"] == 403
    assert page_fetch(page, "GET", f"/api/v1/tasks/{made.json()['id']}")["status"] == 404


def test_a_viewer_sees_no_actions_and_the_api_refuses_them(
    context: BrowserContext, console: Console
) -> None:
    viewer = member(console, "viewer", role="viewer")
    page = context.new_page()
    sign_in(page, viewer)
    expect(page.get_by_test_id("who")).to_contain_text("viewer")
    expect(page.get_by_text("task(s) on this page")).to_be_visible()
    for name in ("New task", "Edit", "Delete", "Save"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    page.goto("/webhooks")
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    expect(page.get_by_role("form", name="Subscribe")).to_have_count(0)
    refused = page_fetch(page, "POST", "/api/v1/tasks", {"title": "not allowed"})
    assert refused["status"] == 403, refused
    assert json.loads(refused["text"])["status"] == 403


def test_logout_revokes_the_refresh_token(context: BrowserContext, console: Console) -> None:
    email = member(console, "leaver")
    page = context.new_page()
    sign_in(page, email)
    cookie = next(c["value"] for c in context.cookies() if c["name"] == "tp_session")
    user_id = console.users[email]

    def live_tokens() -> int:
        ((count,),) = console.sql(
            "SELECT count(*) FROM auth.refresh_tokens WHERE user_id = %s AND revoked_at IS NULL",
            (user_id,),
        )
        return int(count)

    assert live_tokens() == 1
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    assert live_tokens() == 0
    assert not [c for c in context.cookies() if c["name"] == "tp_session"]
    replay = httpx.get(f"{console.url}/api/v1/tasks", cookies={"tp_session": cookie}, timeout=30)
    assert replay.status_code == 401
