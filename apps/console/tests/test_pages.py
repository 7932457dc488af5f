"""Every page of the console in light and dark mode: axe-core finds no serious or
critical violation, and a screenshot of each goes to docs/screenshots/ for the READMEs.
Plus the initial JavaScript budget the build reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from console_service.build import BUILT, WEB
from taskplane_common.testing.processes import wait_until

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, SCREENSHOTS, Console, new_context, sign_in

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
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = new_context(browser, console, scheme)
    page = context.new_page()
    serve_axe(page)
    page.goto("/login")
    expect(page.get_by_role("heading", name="Sign in to taskplane")).to_be_visible()
    found: dict[str, Any] = {}
    if violations := axe_violations(page):
        found["login"] = violations
    page.screenshot(path=str(SCREENSHOTS / f"login-{scheme}.png"))
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
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{scheme}.png"), full_page=True)
    phone = new_context(browser, console, scheme, width=390)
    small = phone.new_page()
    sign_in(small, ADMIN_EMAIL, ADMIN_PASSWORD)
    small.screenshot(path=str(SCREENSHOTS / f"tasks-phone-{scheme}.png"), full_page=True)
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
