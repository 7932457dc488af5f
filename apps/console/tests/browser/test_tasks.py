"""The task pages: create, filter, edit with a conflicting change, delete; the bulk
status change; live updates and their refresh setting; paging through 10,000 tasks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, Request, expect

from taskplane_testing.platform import ADMIN_EMAIL, ADMIN_PASSWORD

from .conftest import Console, member, sign_in, unique


def task_row(page: Page, title: str) -> Any:
    return page.locator("tbody tr", has_text=title)


def test_tasks_create_filter_edit_conflict_delete(
    context: BrowserContext, console: Console
) -> None:
    email = member(console)
    tag = unique("tag")
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


def test_bulk_status_change_confirms_the_count_and_reports_conflicts(
    context: BrowserContext, console: Console
) -> None:
    email = member(console, "bulk")
    headers = console.as_user(email)
    tag = unique("chores")
    ids = {}
    for title in ("sweep the floor", "mop the floor", "dust the shelves"):
        made = console.api("POST", "/api/v1/tasks", headers, json={"title": title, "tags": [tag]})
        assert made.status_code == 201, made.text
        ids[title] = made.json()["id"]

    page = context.new_page()
    sign_in(page, email)
    page.goto(f"/tasks?tag={tag}")
    expect(page.locator("tbody tr[data-task-id]")).to_have_count(3)
    bulk = page.get_by_role("form", name="Selected tasks")
    task_row(page, "mop the floor").get_by_role("checkbox").check()
    expect(bulk.get_by_role("button", name="Change status of 1…")).to_be_enabled()
    page.get_by_label("Select every task on this page").check()
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
    expect(task_row(page, "dust the shelves").get_by_role("checkbox")).to_be_checked()
    expect(task_row(page, "mop the floor").get_by_role("checkbox")).not_to_be_checked()
    statuses = {
        title: console.api("GET", f"/api/v1/tasks/{task_id}", headers).json()["status"]
        for title, task_id in ids.items()
    }
    assert statuses == {
        "sweep the floor": "completed",
        "mop the floor": "completed",
        "dust the shelves": "pending",
    }


def test_the_refresh_setting_is_kept_and_one_poll_runs_per_tab(
    context: BrowserContext, console: Console
) -> None:
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


def test_ten_thousand_tasks_page_without_loading_them_all(
    context: BrowserContext, console: Console
) -> None:
    email = member(console, "many")
    # Plain tasks owned by the member, in one INSERT: the columns a task created through
    # the API has (no queue), each a millisecond older than the one before.
    console.sql(
        "INSERT INTO tasks.tasks (id, title, status, priority, owner_id, version, created_at,"
        " updated_at, tags, tags_normalized)"
        " SELECT gen_random_uuid(), 'bulk ' || n, 'pending', 1, %(owner)s, 1, at, at, '{}', '{}'"
        " FROM generate_series(0, 9999) AS n,"
        " LATERAL (SELECT now() - n * interval '1 millisecond' AS at) AS stamp",
        {"owner": console.users[email]},
    )
    listed_by_api = console.api("GET", "/api/v1/tasks?limit=1", console.as_user(email))
    assert listed_by_api.status_code == 200, listed_by_api.text
    assert [t["title"] for t in listed_by_api.json()["items"]] == ["bulk 0"]

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
