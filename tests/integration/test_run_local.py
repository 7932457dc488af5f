"""``make run`` creates the queue its worker serves before starting the worker, through
the real API with the local admin's token: created once, then left as it is (settings
changed since are kept), so the worker leases at once instead of being refused."""

from __future__ import annotations

import httpx
import pytest

from taskplane_client import UnauthorizedError
from taskplane_testing.platform import Platform, platform
from taskplane_testing.scripts import load_script

__all__ = ["platform"]


def test_the_worker_queue_is_created_once_and_then_left_alone(platform: Platform) -> None:
    run_local = load_script("run_local.py")
    api = platform.tasks.url
    token = platform.admin_token()
    headers = {"Authorization": f"Bearer {token}"}
    queue = run_local.WORKER_QUEUE
    assert httpx.get(f"{api}/api/v1/queues/{queue}", headers=headers).status_code == 404
    assert run_local.ensure_queue(api, token, queue) is True
    changed = httpx.put(
        f"{api}/api/v1/queues/{queue}", json={"max_attempts": 7}, headers=headers, timeout=30
    )
    assert changed.status_code == 200, changed.text
    assert run_local.ensure_queue(api, token, queue) is False
    after = httpx.get(f"{api}/api/v1/queues/{queue}", headers=headers, timeout=30).json()
    assert after["config"]["max_attempts"] == 7, "a queue that exists keeps its settings"
    # A token the service refuses creates nothing, and the caller is told.
    with pytest.raises(UnauthorizedError):
        run_local.ensure_queue(api, "not-a-token", "elsewhere")
    assert httpx.get(f"{api}/api/v1/queues/elsewhere", headers=headers).status_code == 404
