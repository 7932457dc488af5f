"""The unread badge: the service's count of every unread notification, not of a page."""

from __future__ import annotations

import re

from playwright.sync_api import BrowserContext, expect

from .conftest import Console, member, sign_in

UNREAD, READ = 130, 5


def test_the_unread_badge_counts_past_the_first_page(
    context: BrowserContext, console: Console
) -> None:
    email = member(console, "reader")
    # More unread notifications than one page of the list holds (100), and a few read ones
    # the badge must not count; seeded in SQL, as the feed consumer would have written them.
    console.sql(
        "INSERT INTO notifications.notifications (id, user_id, kind, title, body, read, read_at,"
        " created_at)"
        " SELECT gen_random_uuid(), %(user)s, 'task.assigned', 'Task assigned', 'note ' || n,"
        " n >= %(unread)s, CASE WHEN n >= %(unread)s THEN now() END,"
        " now() - n * interval '1 second'"
        " FROM generate_series(0, %(unread)s + %(read)s - 1) AS n",
        {"user": console.users[email], "unread": UNREAD, "read": READ},
    )
    headers = console.as_user(email)
    counted = console.api("GET", "/api/v1/notifications/unread-count", headers)
    assert counted.json() == {"unread": UNREAD}, counted.text

    page = context.new_page()
    sign_in(page, email)
    badge = page.get_by_test_id("unread-badge")
    expect(badge).to_have_text(re.compile(rf"^{UNREAD}\s*unread$"))

    # One marked read elsewhere: the next count (here, after a reload) follows the service.
    newest = console.api("GET", "/api/v1/notifications?limit=1", headers).json()["items"][0]
    marked = console.api(
        "PATCH", f"/api/v1/notifications/{newest['id']}", headers, json={"read": True}
    )
    assert marked.status_code == 200, marked.text
    page.reload()
    expect(badge).to_have_text(re.compile(rf"^{UNREAD - 1}\s*unread$"))
