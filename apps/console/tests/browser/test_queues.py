"""The queue pages: a queued task completing live with its webhook delivery, dead
letters retried and deleted in bulk, a queue's configuration edited."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, expect

from taskplane_testing.platform import ADMIN_EMAIL, ADMIN_PASSWORD
from taskplane_testing.processes import wait_until

from .conftest import Console, sign_in, unique


def test_a_queue_task_completes_live(context: BrowserContext, console: Console) -> None:
    admin = console.admin()
    queue = unique("live")
    created = console.api("PUT", f"/api/v1/queues/{queue}", admin, json={"paused": True})
    assert created.status_code in (200, 201), created.text
    task = console.api("POST", f"/api/v1/queues/{queue}/tasks", admin, json={"payload": {"n": 1}})
    assert task.status_code == 201, task.text
    task_id = task.json()["id"]

    # A URL of this test's own (the receiver answers every path): other tests' admin
    # webhooks may get deliveries for the same events.
    hook_url = f"{console.receiver.url}/{queue}"
    hook = {"url": hook_url, "events": ["task.completed"]}
    assert console.api("POST", "/api/v1/webhooks", admin, json=hook).status_code == 201

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
    ours = completed.get_by_test_id("delivery").filter(has_text=hook_url)

    def delivered() -> bool:
        page.get_by_role("button", name="Refresh deliveries").click()
        return "succeeded" in " ".join(ours.all_inner_texts())

    wait_until(delivered, "the completion's webhook delivery", interval_s=1)
    expect(ours).to_have_count(1)
    created = timeline.locator("li[data-event-type='task.created']")
    # Not subscribed to task.created.
    expect(created.get_by_test_id("delivery").filter(has_text=hook_url)).to_have_count(0)


def dead_count(console: Console, queue: str) -> int:
    answer = console.api("GET", f"/api/v1/queues/{queue}/dead", console.admin())
    assert answer.status_code == 200, answer.text
    return len(answer.json())


def test_dead_letters_bulk_retry_shows_the_count_first(
    context: BrowserContext, console: Console
) -> None:
    admin = console.admin()
    queue = unique("failing")
    batch = {"tasks": [{"payload": {"error": "boom"}, "max_attempts": 1} for _ in range(3)]}
    batch["tasks"].append({"payload": {"error": "other"}, "max_attempts": 1})
    assert (
        console.api("POST", f"/api/v1/queues/{queue}/tasks", admin, json=batch).status_code == 201
    )
    with console.worker(queue, "builtin:fail"):
        wait_until(lambda: dead_count(console, queue) == 4, "four dead tasks")

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


def test_queue_configuration_and_retention_edit(context: BrowserContext, console: Console) -> None:
    admin = console.admin()
    queue = unique("configured")
    created = console.api("PUT", f"/api/v1/queues/{queue}", admin, json={"max_attempts": 5})
    assert created.status_code == 201, created.text
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
