"""axe-core on every page in light and dark mode (with the screenshots the READMEs
show), the phone layout, and the initial JavaScript budget."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from console_service.build import BUILT, WEB
from taskplane_testing.platform import ADMIN_EMAIL, ADMIN_PASSWORD
from taskplane_testing.processes import wait_until

from .conftest import SCREENSHOTS, TAKE_SCREENSHOTS, Console, new_context, sign_in

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
