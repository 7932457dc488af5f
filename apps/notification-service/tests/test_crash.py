"""SIGKILL the notification-service three times while 1,000 events flow: every event is
delivered, and the only duplicates are deliveries that were in flight at a kill."""

from __future__ import annotations

import uuid
from collections import defaultdict

from standardwebhooks.webhooks import Webhook

from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import ServiceProcess, wait_until

from .conftest import Platform
from .test_end_to_end import person, subscribe

EVENTS = 1000
BATCH = 100
KILL_AFTER_BATCHES = (2, 5, 8)
PER_ENDPOINT = 8


def test_sigkill_three_times_while_events_flow(
    platform: Platform, postgres_server: PostgresServer
) -> None:
    env = platform.notification_env(
        postgres_server.create_database("notification_crash"),
        TASKPLANE_WEBHOOK_TIMEOUT_S="2",
        TASKPLANE_DELIVERY_LEASE_S="3",
        TASKPLANE_WEBHOOK_CONCURRENCY_PER_ENDPOINT=str(PER_ENDPOINT),
    )
    service = ServiceProcess("notification_service", env).start()
    _, _, headers = person(platform, task_created={"webhook": True, "in_app": False})
    path = f"/ok/crash-{uuid.uuid4()}"
    hook = subscribe(service, headers, platform.receiver.url(path), "task.created")
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    enqueued: set[str] = set()
    kills = 0
    try:
        for batch in range(EVENTS // BATCH):
            enqueued |= platform.enqueue(queue, headers, batch * BATCH, BATCH)
            if batch in KILL_AFTER_BATCHES:
                seen = len(platform.receiver.at(path))
                wait_until(lambda s=seen: len(platform.receiver.at(path)) > s, what="deliveries")
                assert service.process is not None
                service.process.kill()  # SIGKILL: no chance to finish anything
                service.process.wait(timeout=30)
                kills += 1
                service = ServiceProcess("notification_service", env).start()

        def distinct() -> int:
            return len({r.webhook_id for r in platform.receiver.at(path)})

        wait_until(lambda: distinct() == EVENTS, timeout_s=180, what="every delivery")
    finally:
        service.stop()

    received = platform.receiver.at(path)
    by_id: dict[str, set[str]] = defaultdict(set)
    signer = Webhook(hook["secret"])
    for request in received:
        payload = signer.verify(request.body, request.headers)
        by_id[request.webhook_id].add(payload["data"]["task_id"])
    duplicates = len(received) - len(by_id)
    print(f"\ncrash test: {kills} SIGKILLs, {len(by_id)} events delivered, {duplicates} duplicates")
    assert kills == 3
    assert {task for tasks in by_id.values() for task in tasks} == enqueued
    assert all(len(tasks) == 1 for tasks in by_id.values()), "one webhook-id, one event"
    assert duplicates <= kills * PER_ENDPOINT, "duplicates only for deliveries in flight"
