"""Answers from a newer server: unknown fields are ignored, unknown queue settings kept."""

from __future__ import annotations

from taskplane_client import Queue, QueueConfig


def test_a_queue_from_a_newer_server_round_trips_its_unknown_settings() -> None:
    answer = {
        "name": "q",
        "available": 1,
        "scheduled": 0,
        "in_flight": 0,
        "retrying": 0,
        "dead": 0,
        "oldest_available_age_s": 0.5,
        "completed_total": 0,
        "failed_total": 0,
        "a_new_stat": 7,
        "config": {"max_attempts": 3, "paused": True, "a_new_setting_s": 86400},
    }
    queue = Queue.model_validate(answer)
    assert not hasattr(queue, "a_new_stat")
    changed = QueueConfig.model_validate({**queue.config.model_dump(), "paused": False})
    assert changed.model_dump()["a_new_setting_s"] == 86400  # a put keeps what it did not set
    assert (changed.max_attempts, changed.paused) == (3, False)
