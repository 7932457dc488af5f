"""A queue as the API shows it: stats, the event feed's completions, the handler's record."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

#: The handler every crash test runs: it appends the task's ``n`` to ``RECORD_FILE``.
RECORD_HANDLER = "python:taskplane_testing.worker_handlers:record"


@dataclass
class QueueView:
    """One queue through one task-service's HTTP API."""

    url: str
    queue: str

    def _api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api/v1", timeout=60)

    def configure(self, **config: Any) -> None:
        with self._api() as api:
            response = api.put(f"/queues/{self.queue}", json=config)
        assert response.status_code in (200, 201), response.text

    def enqueue(self, count: int, sleep_s: float = 0.0, batch: int = 500) -> list[str]:
        """``count`` tasks with payloads ``{"n": 0..count-1}`` (the handler sleeps
        ``sleep_s`` in each); their ids in ``n`` order."""
        ids: list[str] = []
        with self._api() as api:
            for start in range(0, count, batch):
                numbers = range(start, min(count, start + batch))
                body = {"tasks": [{"payload": {"n": n, "sleep": sleep_s}} for n in numbers]}
                response = api.post(f"/queues/{self.queue}/tasks", json=body)
                assert response.status_code == 201, response.text
                ids.extend(task["id"] for task in response.json()["tasks"])
        return ids

    def stats(self) -> dict[str, Any]:
        with self._api() as api:
            response = api.get(f"/queues/{self.queue}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def completed(self) -> int:
        return int(self.stats()["completed_total"])

    def completions(self) -> Counter[str]:
        """``task.completed`` events of this queue in the feed, counted by task id."""
        counts: Counter[str] = Counter()
        cursor: str | None = None
        with self._api() as api:
            while True:
                params: dict[str, Any] = {"limit": 1000}
                if cursor is not None:
                    params["after"] = cursor
                response = api.get("/events", params=params)
                assert response.status_code == 200, response.text
                page = response.json()
                for event in page["items"]:
                    if event["type"] == "task.completed" and event["queue"] == self.queue:
                        counts[event["task_id"]] += 1
                if not page["items"]:
                    return counts
                cursor = page["next_cursor"]


def executions(*records: Path) -> Counter[int]:
    """How many times the handler ran each task, by its own records (one per worker)."""
    lines = [line for record in records if record.exists() for line in record.read_text().split()]
    return Counter(int(line) for line in lines)
