"""The webhook page: a subscription's secret shown once, its deliveries listed, a test
event sent."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, expect

from taskplane_testing.processes import wait_until

from .conftest import Console, member, page_fetch, sign_in


def test_webhook_secret_is_shown_once_and_deliveries_listed(
    context: BrowserContext, console: Console
) -> None:
    email = member(console, "hooks")
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
