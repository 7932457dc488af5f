"""The console in Chromium against the real platform: what a person does in it, the
security properties a browser client must keep (cookie, tokens, CSRF, roles), axe-core
on every page in light and dark mode (with the screenshots the READMEs show), and the
initial JavaScript budget. One module, so the platform and the browser start once."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, Request, expect

from console_service.build import BUILT, WEB
from taskplane_testing.platform import ADMIN_EMAIL, ADMIN_PASSWORD
from taskplane_testing.processes import wait_until

from .conftest import (
    SCREENSHOTS,
    TAKE_SCREENSHOTS,
    Console,
    new_context,
    sign_in,
)

#: The first test also pays for starting the platform (and building the console when the
#: sources changed), more than the suite's 300 s per test on a busy machine.
pytestmark = pytest.mark.timeout(900)

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
    context.close()


def test_unsafe_calls_need_the_csrf_token_and_same_origin(
    browser: Browser, console: Console
) -> None:
    context = new_context(browser, console)
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
    context.close()


def task_row(page: Page, title: str) -> Any:
    return page.locator("tbody tr", has_text=title)


def test_tasks_create_filter_edit_conflict_delete(browser: Browser, console: Console) -> None:
    email = member(console)
    tag = unique("tag")
    context = new_context(browser, console)
    page = context.new_page()
    sign_in(page, email)

    page.get_by_role("button", name="New task").click()
    form = page.get_by_role("form", name="New task")
    form.get_by_label("Title").fill("write the report")
    form.get_by_label("Tags").fill(tag)
    form.get_by_role("button", name="Create").click()
    expect(task_row(page, "write the report")).to_be_visible()
    page.get_by_role("button", name="New task").click()
    form.get_by_label("Title").fill("water the plants")
    form.get_by_role("button", name="Create").click()
    expect(task_row(page, "water the plants")).to_be_visible()

    filters = page.get_by_role("form", name="Filters")
    filters.get_by_label("Tags (all of)").fill(tag)
    filters.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(f"**/tasks?tag={tag}")
    expect(task_row(page, "write the report")).to_be_visible()
    expect(task_row(page, "water the plants")).to_have_count(0)
    page.reload()
    expect(filters.get_by_label("Tags (all of)")).to_have_value(tag)
    expect(task_row(page, "write the report")).to_be_visible()
    expect(task_row(page, "water the plants")).to_have_count(0)

    # Edit; meanwhile someone changes the title through the API: the save gets a 412.
    row = task_row(page, "write the report")
    task_id = row.get_attribute("data-task-id")
    row.get_by_role("button", name="Edit").click()
    page.locator("select[name=edit-priority]").select_option("high")
    changed = console.api(
        "PATCH",
        f"/api/v1/tasks/{task_id}",
        console.as_user(email),
        json={"title": "write the final report"},
    )
    assert changed.status_code == 200, changed.text
    page.get_by_role("button", name="Save").click()
    conflict = page.get_by_test_id("conflict")
    expect(conflict).to_be_visible()
    title_change = conflict.locator("tr", has_text="title")
    expect(title_change).to_contain_text("write the report")
    expect(title_change).to_contain_text("write the final report")
    conflict.get_by_role("button", name="Re-apply my changes").click()
    expect(conflict).to_have_count(0)
    stored = console.api("GET", f"/api/v1/tasks/{task_id}", console.as_user(email)).json()
    assert stored["priority"] == "high"
    # Re-applying keeps what the user typed: their title wins over the other edit.
    assert stored["title"] == "write the report"

    task_row(page, "write the report").get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(task_row(page, "write the report")).to_have_count(0)
    gone = console.api("GET", f"/api/v1/tasks/{task_id}", console.as_user(email))
    assert gone.status_code == 404
    context.close()


def test_a_queue_task_completes_live(browser: Browser, console: Console) -> None:
    admin = console.admin()
    queue = unique("live")
    created = console.api("PUT", f"/api/v1/queues/{queue}", admin, json={"paused": True})
    assert created.status_code in (200, 201), created.text
    task = console.api("POST", f"/api/v1/queues/{queue}/tasks", admin, json={"payload": {"n": 1}})
    assert task.status_code == 201, task.text
    task_id = task.json()["id"]

    hook = {"url": console.receiver.url, "events": ["task.completed"]}
    assert console.api("POST", "/api/v1/webhooks", admin, json=hook).status_code == 201

    context = new_context(browser, console)
    page = context.new_page()
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"/queues/{queue}/tasks/{task_id}")
    status = page.get_by_test_id("task-status")
    expect(status).to_have_text("pending")
    with console.worker(queue, "builtin:echo"):
        resumed = console.api("PUT", f"/api/v1/queues/{queue}", admin, json={"paused": False})
        assert resumed.status_code == 200, resumed.text
        expect(status).to_have_text("completed", timeout=120_000)
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("task.completed")
    expect(page.get_by_test_id("task-result")).to_contain_text('"n": 1')
    attempts = page.get_by_test_id("attempts").locator("tbody tr")
    expect(attempts).to_have_count(1)
    expect(attempts.first).to_contain_text("completed")
    expect(attempts.first).to_contain_text("s")  # a duration, in ms or s

    # The webhook delivery the completion caused, under that event.
    completed = timeline.locator("li[data-event-type='task.completed']")

    def delivered() -> bool:
        page.get_by_role("button", name="Refresh deliveries").click()
        return "succeeded" in " ".join(completed.get_by_test_id("delivery").all_inner_texts())

    wait_until(delivered, "the completion's webhook delivery", interval_s=1)
    expect(completed.get_by_test_id("delivery")).to_contain_text(console.receiver.url)
    created = timeline.locator("li[data-event-type='task.created']")
    expect(created.get_by_test_id("delivery")).to_have_count(0)  # not subscribed
    context.close()


def dead_count(console: Console, queue: str) -> int:
    answer = console.api("GET", f"/api/v1/queues/{queue}/dead", console.admin())
    assert answer.status_code == 200, answer.text
    return len(answer.json())


def test_dead_letters_bulk_retry_shows_the_count_first(browser: Browser, console: Console) -> None:
    admin = console.admin()
    queue = unique("failing")
    batch = {"tasks": [{"payload": {"error": "boom"}, "max_attempts": 1} for _ in range(3)]}
    batch["tasks"].append({"payload": {"error": "other"}, "max_attempts": 1})
    assert (
        console.api("POST", f"/api/v1/queues/{queue}/tasks", admin, json=batch).status_code == 201
    )
    with console.worker(queue, "builtin:fail"):
        wait_until(lambda: dead_count(console, queue) == 4, "four dead tasks")

    context = new_context(browser, console)
    page = context.new_page()
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    boom = next(
        t
        for t in console.api("GET", f"/api/v1/queues/{queue}/dead", admin).json()
        if t["last_error"] == "boom"
    )
    page.goto(f"/queues/{queue}/tasks/{boom['id']}")
    attempt = page.get_by_test_id("attempts").locator("tbody tr")
    expect(attempt).to_have_count(1)
    expect(attempt).to_contain_text("failed")
    expect(attempt).to_contain_text("boom")

    page.goto(f"/dead?queue={queue}&error=boom")
    expect(page.get_by_test_id("dead-count")).to_have_text("3 dead task(s) match.")
    page.get_by_role("button", name="Retry all matching…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_test_id("retry-count")).to_contain_text("3 task(s)")
    dialog.get_by_role("button", name="Retry 3").click()
    expect(page.get_by_role("status")).to_have_text("Retried 3 task(s).")
    expect(page.get_by_test_id("dead-count")).to_have_text("0 dead task(s) match.")
    assert dead_count(console, queue) == 1  # the one that did not match the filter

    page.goto(f"/dead?queue={queue}&error=other")
    expect(page.get_by_test_id("dead-count")).to_have_text("1 dead task(s) match.")
    page.get_by_role("button", name="Delete all matching…").click()
    expect(dialog.get_by_test_id("delete-count")).to_contain_text("1 task(s)")
    dialog.get_by_role("button", name="Delete 1").click()
    expect(page.get_by_role("status")).to_have_text("Deleted 1 task(s).")
    assert dead_count(console, queue) == 0
    context.close()


def test_webhook_secret_is_shown_once_and_deliveries_listed(
    browser: Browser, console: Console
) -> None:
    email = member(console, "hooks")
    context = new_context(browser, console)
    page = context.new_page()
    sign_in(page, email)
    page.goto("/webhooks")
    form = page.get_by_role("form", name="Subscribe")
    form.get_by_label("URL").fill(console.receiver.url)
    form.get_by_label("task.created").check()
    form.get_by_role("button", name="Subscribe").click()
    secret_panel = page.get_by_test_id("secret")
    expect(secret_panel).to_contain_text("whsec_")
    secret = secret_panel.locator("code").inner_text()

    page.reload()
    expect(page.locator("tbody tr", has_text=console.receiver.url)).to_be_visible()
    assert secret not in page.content()
    listed = page_fetch(page, "GET", "/api/v1/webhooks")
    assert secret not in listed["text"]

    created = console.api(
        "POST", "/api/v1/tasks", console.as_user(email), json={"title": "tell the hook"}
    )
    assert created.status_code == 201, created.text
    wait_until(lambda: console.receiver.received, "the webhook delivery")
    page.get_by_role("button", name="Deliveries").click()
    deliveries = page.get_by_test_id("deliveries")

    def delivered() -> bool:
        page.get_by_role("button", name="Refresh").click()
        return "succeeded" in deliveries.inner_text()

    wait_until(delivered, "a succeeded delivery in the log", interval_s=1)
    expect(deliveries).to_contain_text("task.created")

    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_role("status").filter(has_text="webhook.test")).to_be_visible()
    wait_until(
        lambda: any(b"webhook.test" in body for body in console.receiver.bodies),
        "the test event at the receiver",
    )
    wait_until(lambda: delivered() and "webhook.test" in deliveries.inner_text(), "its log entry")
    context.close()


def test_members_see_their_own_and_no_admin_page(browser: Browser, console: Console) -> None:
    owner, other = member(console, "owner"), member(console, "other")
    secret_title = unique("private")
    made = console.api(
        "POST", "/api/v1/tasks", console.as_user(owner), json={"title": secret_title}
    )
    assert made.status_code == 201, made.text

    context = new_context(browser, console)
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
    context.close()


def test_a_viewer_sees_no_actions_and_the_api_refuses_them(
    browser: Browser, console: Console
) -> None:
    viewer = member(console, "viewer", role="viewer")
    context = new_context(browser, console)
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
    context.close()


def test_bulk_status_change_confirms_the_count_and_reports_conflicts(
    browser: Browser, console: Console
) -> None:
    email = member(console, "bulk")
    headers = console.as_user(email)
    tag = unique("chores")
    ids = {}
    for title in ("sweep the floor", "mop the floor", "dust the shelves"):
        made = console.api("POST", "/api/v1/tasks", headers, json={"title": title, "tags": [tag]})
        assert made.status_code == 201, made.text
        ids[title] = made.json()["id"]

    context = new_context(browser, console)
    page = context.new_page()
    sign_in(page, email)
    page.goto(f"/tasks?tag={tag}")
    expect(page.locator("tbody tr[data-task-id]")).to_have_count(3)
    page.get_by_label("Select every task on this page").check()
    bulk = page.get_by_role("form", name="Selected tasks")
    bulk.get_by_label("Set the status of the selected tasks to").select_option("completed")
    bulk.get_by_role("button", name="Change status of 3…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_test_id("bulk-count")).to_contain_text("3 task(s)")
    # Someone else edits one of them before the confirmation: its PATCH gets a 412.
    changed = console.api(
        "PATCH", f"/api/v1/tasks/{ids['dust the shelves']}", headers, json={"priority": "high"}
    )
    assert changed.status_code == 200, changed.text
    dialog.get_by_role("button", name="Set 3 to completed").click()
    result = page.get_by_test_id("bulk-result")
    expect(result).to_contain_text("Changed 2 task(s) to completed. 1 not changed:")
    expect(result.locator("li")).to_have_count(1)
    expect(result.locator("li")).to_contain_text("dust the shelves")
    expect(result.locator("li")).to_contain_text("412")
    statuses = {
        title: console.api("GET", f"/api/v1/tasks/{task_id}", headers).json()["status"]
        for title, task_id in ids.items()
    }
    assert statuses == {
        "sweep the floor": "completed",
        "mop the floor": "completed",
        "dust the shelves": "pending",
    }
    context.close()


def test_queue_configuration_and_retention_edit(browser: Browser, console: Console) -> None:
    admin = console.admin()
    queue = unique("configured")
    created = console.api("PUT", f"/api/v1/queues/{queue}", admin, json={"max_attempts": 5})
    assert created.status_code == 201, created.text
    context = new_context(browser, console)
    page = context.new_page()
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/queues")
    page.get_by_role("button", name=f"Configure {queue}").click()
    form = page.get_by_role("form", name="Queue configuration")
    expect(form.get_by_label("Max attempts")).to_have_value("5")

    # Over the API's limit: the problem's detail shows next to the form, nothing changes.
    form.get_by_label("Max attempts").fill("5000")
    form.get_by_label("Keep dead (s)").fill("3600")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("config-problem")).to_contain_text("max_attempts")
    expect(form.get_by_label("Max attempts")).to_have_attribute("aria-invalid", "true")
    config = console.api("GET", f"/api/v1/queues/{queue}", admin).json()["config"]
    assert (config["max_attempts"], config["dead_retention_s"]) == (5, 2_592_000)

    form.get_by_label("Max attempts").fill("3")
    form.get_by_label("Keep completed (s)").fill("")  # empty: keep forever
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text(f"Saved the configuration of {queue}.")
    config = console.api("GET", f"/api/v1/queues/{queue}", admin).json()["config"]
    assert config["max_attempts"] == 3
    assert config["dead_retention_s"] == 3600
    assert config["completed_retention_s"] is None
    context.close()


def test_the_refresh_setting_is_kept_and_one_poll_runs_per_tab(
    browser: Browser, console: Console
) -> None:
    context = new_context(browser, console)
    page = context.new_page()
    started: list[str] = []
    #: Each poll's start and end, numbered in the order the browser reported them. A poll
    #: the page aborted itself (a changed setting replaces the waiting poll) is left out:
    #: its abort can be reported after its replacement started.
    spans: dict[Request, list[int]] = {}
    clock = iter(range(1_000_000))
    still_open = 10**9

    def poll(request: Request) -> bool:
        return urlsplit(request.url).path == "/api/v1/events" and "wait_s=" in request.url

    def on_request(request: Request) -> None:
        if poll(request):
            started.append(request.url)
            spans[request] = [next(clock), still_open]

    def on_finished(request: Request) -> None:
        if request in spans:
            spans[request][1] = next(clock)

    def on_failed(request: Request) -> None:
        if request in spans and "ABORTED" in (request.failure or ""):
            del spans[request]
        else:
            on_finished(request)

    def most_open() -> int:
        return max(
            (sum(1 for s, e in spans.values() if s <= start < e) for start, _ in spans.values()),
            default=0,
        )

    page.on("request", on_request)
    page.on("requestfinished", on_finished)
    page.on("requestfailed", on_failed)
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    refresh = page.get_by_role("combobox", name="Refresh")
    live_state = page.get_by_test_id("live-state")
    expect(refresh).to_have_value("5")
    expect(live_state).to_have_text("live updates on")

    refresh.select_option("2")
    admin = console.admin()
    for n in range(3):
        made = console.api("POST", "/api/v1/tasks", admin, json={"title": f"refresh probe {n}"})
        assert made.status_code == 201, made.text
        expect(page.locator("tbody tr", has_text=f"refresh probe {n}")).to_be_visible()
    assert started, "no long poll ran"
    assert most_open() == 1, "more than one long poll at a time in one tab"
    stored = page.evaluate("JSON.stringify(Object.entries(localStorage))")
    assert stored == '[["taskplane.refresh_s","2"]]'  # the setting, nothing else

    refresh.select_option("0")
    expect(live_state).to_have_text("live updates off")
    page.wait_for_timeout(500)
    before = len(started)
    console.api("POST", "/api/v1/tasks", admin, json={"title": "not shown live"})
    page.wait_for_timeout(3000)
    assert len(started) == before, "a poll ran with live updates off"
    expect(page.locator("tbody tr", has_text="not shown live")).to_have_count(0)
    page.reload()
    expect(page.get_by_role("combobox", name="Refresh")).to_have_value("0")
    expect(page.get_by_test_id("live-state")).to_have_text("live updates off")
    context.close()


def test_logout_revokes_the_refresh_token(browser: Browser, console: Console) -> None:
    email = member(console, "leaver")
    context = new_context(browser, console)
    page = context.new_page()
    sign_in(page, email)
    cookie = next(c["value"] for c in context.cookies() if c["name"] == "tp_session")
    user_id = console.users[email]

    def live_tokens() -> int:
        with psycopg.connect(console.database_url.replace("+psycopg", "")) as db:
            row = db.execute(
                "SELECT count(*) FROM auth.refresh_tokens"
                " WHERE user_id = %s AND revoked_at IS NULL",
                (user_id,),
            ).fetchone()
        assert row is not None
        return int(row[0])

    assert live_tokens() == 1
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    assert live_tokens() == 0
    assert not [c for c in context.cookies() if c["name"] == "tp_session"]
    replay = httpx.get(f"{console.url}/api/v1/tasks", cookies={"tp_session": cookie}, timeout=30)
    assert replay.status_code == 401
    context.close()


def test_ten_thousand_tasks_page_without_loading_them_all(
    browser: Browser, console: Console
) -> None:
    email = member(console, "many")
    headers = console.as_user(email)
    queue = unique("bulk")
    for first in range(0, 10_000, 1000):
        batch = {"tasks": [{"title": f"bulk {first + i}", "delay_s": 3600} for i in range(1000)]}
        answer = console.api("POST", f"/api/v1/queues/{queue}/tasks", headers, json=batch)
        assert answer.status_code == 201, answer.text

    context = new_context(browser, console)
    page = context.new_page()
    listed: list[str] = []
    page.on(
        "request",
        lambda request: (
            listed.append(request.url) if urlsplit(request.url).path == "/api/v1/tasks" else None
        ),
    )
    page.goto("/login?next=/tasks")
    sign_in(page, email)
    rows = page.locator("tbody tr[data-task-id]")
    expect(rows).to_have_count(50)
    top = rows.first.get_attribute("data-task-id") or ""
    first = set(rows.evaluate_all("rows => rows.map(r => r.dataset.taskId)"))
    page.get_by_role("button", name="Next page").click()
    page.wait_for_url("**/tasks?cursor=*")
    expect(rows.first).not_to_have_attribute("data-task-id", top)
    expect(rows).to_have_count(50)
    second = set(rows.evaluate_all("rows => rows.map(r => r.dataset.taskId)"))
    assert len(first) == len(second) == 50
    assert not first & second
    # One page per request, never the whole list.
    assert 2 <= len(listed) <= 6, listed
    context.close()


AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
BUDGET_GZIP_BYTES = 200 * 1024


def serve_axe(page: Page) -> None:
    """axe-core from node_modules, answered as a same-origin file: the console's CSP
    refuses inline scripts (the test keeps it on), so axe cannot be injected inline."""
    source = AXE.read_text()
    page.route(
        "**/__axe.js",
        lambda route: route.fulfill(body=source, content_type="text/javascript"),
    )


def photograph(page: Page, name: str, *, full_page: bool = True) -> None:
    """Rewrite one of the committed screenshots, only when asked (``make screenshots``)."""
    if TAKE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the page as it is now."""
    page.add_script_tag(url="/__axe.js")
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def seed(console: Console) -> dict[str, str]:
    """A little of everything, so that no page is empty in its screenshot."""
    admin = console.admin()
    for title, priority, tags in [
        ("Rotate the TLS certificates", "high", ["ops"]),
        ("Review the retention policy", "medium", ["data", "ops"]),
        ("Plan the capacity review", "low", []),
    ]:
        body = {"title": title, "priority": priority, "tags": tags}
        assert console.api("POST", "/api/v1/tasks", admin, json=body).status_code == 201
    queue = "emails"
    console.api("PUT", f"/api/v1/queues/{queue}", admin, json={"max_attempts": 1})
    task = console.api(
        "POST", f"/api/v1/queues/{queue}/tasks", admin, json={"payload": {"to": "ops@example.org"}}
    ).json()
    dead = "thumbnails"
    console.api(
        "POST",
        f"/api/v1/queues/{dead}/tasks",
        admin,
        json={"tasks": [{"payload": {"error": "image too large"}, "max_attempts": 1}] * 2},
    )
    with console.worker(queue, "builtin:echo"), console.worker(dead, "builtin:fail"):

        def settled() -> bool:
            done = console.api("GET", f"/api/v1/tasks/{task['id']}", admin).json()
            dead_now = console.api("GET", f"/api/v1/queues/{dead}/dead", admin).json()
            return done["status"] == "completed" and len(dead_now) == 2

        wait_until(settled, "seeded tasks to settle")
    hook = {"url": console.receiver.url, "events": ["task.completed"], "description": "ops"}
    console.api("POST", "/api/v1/webhooks", admin, json=hook)
    return {"task_path": f"/queues/{queue}/tasks/{task['id']}", "dead_queue": dead}


@pytest.fixture(scope="module")
def seeded(console: Console) -> dict[str, str]:
    return seed(console)


PAGES = [
    ("tasks", "/tasks", "Tasks"),
    ("queues", "/queues", "Queues"),
    ("task-detail", "{task_path}", None),
    ("dead-letters", "/dead?queue={dead_queue}", "Dead letters"),
    ("events", "/events", "Event feed"),
    ("webhooks", "/webhooks", "Webhooks"),
    ("notifications", "/notifications", "Notifications"),
    ("admin", "/admin", "Admin"),
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_is_accessible_and_photographed(
    browser: Browser, console: Console, seeded: dict[str, str], scheme: str
) -> None:
    context = new_context(browser, console, scheme)
    page = context.new_page()
    serve_axe(page)
    page.goto("/login")
    expect(page.get_by_role("heading", name="Sign in to taskplane")).to_be_visible()
    found: dict[str, Any] = {}
    if violations := axe_violations(page):
        found["login"] = violations
    photograph(page, f"login-{scheme}", full_page=False)
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    for name, path, heading in PAGES:
        page.goto(path.format(**seeded))
        if heading:
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        # Not "networkidle": the live feed's long poll is always open.
        page.locator("text=Loading…").wait_for(state="detached")
        page.wait_for_timeout(700)
        if violations := axe_violations(page):
            found[name] = violations
        photograph(page, f"{name}-{scheme}")
    # What opens on demand: the queue configuration form, the bulk status confirmation.
    page.goto("/queues")
    page.get_by_role("button", name="Configure emails").click()
    expect(page.get_by_role("form", name="Queue configuration")).to_be_visible()
    if violations := axe_violations(page):
        found["queue-config"] = violations
    page.goto("/tasks")
    expect(page.locator("tbody tr[data-task-id]").first).to_be_visible()
    page.get_by_label("Select every task on this page").check()
    page.get_by_role("button", name=re.compile(r"^Change status of \d+…$")).click()
    expect(page.get_by_role("dialog")).to_be_visible()
    if violations := axe_violations(page):
        found["bulk-status"] = violations
    phone = new_context(browser, console, scheme, width=390)
    small = phone.new_page()
    sign_in(small, ADMIN_EMAIL, ADMIN_PASSWORD)
    photograph(small, f"tasks-phone-{scheme}")
    # Nothing but a table's own scroll box is wider than a phone.
    wider = small.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > innerWidth + 1)
            .filter((e) => !e.closest('.table-wrap'))
            .map((e) => `${e.tagName}.${e.className}`)"""
    )
    assert wider == [], wider
    assert small.evaluate("document.documentElement.scrollWidth <= innerWidth + 1")
    phone.close()
    context.close()
    assert not found, json.dumps(found, indent=2)


def test_initial_javascript_is_under_budget(console: Console) -> None:
    """The build's own report (build/size.json), checked against what index.html loads."""
    report = json.loads((BUILT.parent / "size.json").read_text())
    assert 0 < report["initial_js_gzip_bytes"] < BUDGET_GZIP_BYTES
    index = BUILT.read_text()
    assert "<script>" not in index
    for file in report["files"]:
        assert Path(BUILT.parent / file).is_file()
    loaded = [f for f in report["files"] if f"/{f}" in index]
    assert loaded, "the report does not list what index.html loads"
