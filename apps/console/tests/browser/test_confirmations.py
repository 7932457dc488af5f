"""The confirmation before a destructive action on one item (delete a task, revoke a
service token, unsubscribe a webhook): it names the item, Cancel or Escape leaves it
alone and gives the focus back to the button that opened it, and confirming acts on that
item only."""

from __future__ import annotations

from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from taskplane_testing.platform import ADMIN_EMAIL, ADMIN_PASSWORD

from .conftest import Console, member, new_context, sign_in, unique


def confirm_after_second_thoughts(
    page: Page, opener: Locator, title: str, question: str, confirm: str, dismiss: str
) -> None:
    """Open the dialog from ``opener``, back out with ``dismiss`` (the Cancel button or
    Escape), then open it again and confirm."""
    dialog = page.get_by_role("dialog", name=title)
    opener.click()
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name=title)).to_be_visible()
    expect(dialog.locator("p")).to_have_text(question)
    expect(dialog.get_by_role("button", name=confirm)).to_be_focused()
    if dismiss == "Escape":
        page.keyboard.press("Escape")
    else:
        dialog.get_by_role("button", name=dismiss).click()
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    opener.click()
    expect(dialog.locator("p")).to_have_text(question)
    dialog.get_by_role("button", name=confirm).click()
    expect(dialog).to_be_hidden()


def test_delete_unsubscribe_and_revoke_ask_first_and_act_on_their_item(
    browser: Browser, context: BrowserContext, console: Console
) -> None:
    email = member(console, "confirm")
    user = console.as_user(email)
    doomed, kept = unique("doomed"), unique("kept")
    ids: dict[str, str] = {}
    for title in (kept, doomed):
        created = console.api("POST", "/api/v1/tasks", user, json={"title": title})
        assert created.status_code == 201, created.text
        ids[title] = created.json()["id"]
    hooks: dict[str, str] = {}
    for name in ("kept", "doomed"):
        url = f"{console.receiver.url}?{unique(name)}"
        made = console.api(
            "POST", "/api/v1/webhooks", user, json={"url": url, "events": ["task.created"]}
        )
        assert made.status_code == 201, made.text
        hooks[name] = url
    page = context.new_page()
    sign_in(page, email)

    row = page.locator("tbody tr", has_text=doomed)
    confirm_after_second_thoughts(
        page,
        row.get_by_role("button", name=f"Delete {doomed}"),
        "Delete this task?",
        f"“{doomed}” will be deleted. This cannot be undone.",
        "Delete",
        "Cancel",
    )
    expect(row).to_have_count(0)
    expect(page.locator("tbody tr", has_text=kept)).to_be_visible()
    assert console.api("GET", f"/api/v1/tasks/{ids[doomed]}", user).status_code == 404
    assert console.api("GET", f"/api/v1/tasks/{ids[kept]}", user).status_code == 200

    page.goto("/webhooks")
    row = page.locator("tbody tr", has_text=hooks["doomed"])
    confirm_after_second_thoughts(
        page,
        row.get_by_role("button", name="Unsubscribe"),
        "Unsubscribe?",
        f"{hooks['doomed']} stops receiving events.",
        "Unsubscribe",
        "Escape",
    )
    expect(row).to_have_count(0)
    expect(page.locator("tbody tr", has_text=hooks["kept"])).to_be_visible()
    listed = console.api("GET", "/api/v1/webhooks", user).json()
    assert [hook["url"] for hook in listed] == [hooks["kept"]]

    revoked, active = unique("revoked"), unique("active")
    for name in (active, revoked):
        console.service_token(name, "users:read")
    admin = new_context(browser, console)
    try:
        page = admin.new_page()
        sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
        page.goto("/admin")
        row = page.locator("tbody tr", has_text=revoked)
        confirm_after_second_thoughts(
            page,
            row.get_by_role("button", name="Revoke"),
            "Revoke this token?",
            f"Services using “{revoked}” lose access at their next token exchange.",
            "Revoke",
            "Cancel",
        )
        expect(row.locator("td").nth(4)).to_have_text("revoked")
        expect(page.locator("tbody tr", has_text=active).locator("td").nth(4)).to_have_text(
            "active"
        )
    finally:
        admin.close()
