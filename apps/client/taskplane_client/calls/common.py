"""What the call modules share: the API's base paths and the long-poll read margin."""

from __future__ import annotations

from urllib.parse import quote

#: Extra read time for a long-poll beyond the wait it asks the server for.
LONG_POLL_MARGIN_S = 15.0
TASKS = "/api/v1/tasks"
QUEUES = "/api/v1/queues"
LEASES = "/api/v1/leases"


def _queue(name: str) -> str:
    return f"{QUEUES}/{quote(name, safe='')}"
