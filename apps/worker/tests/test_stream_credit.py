"""The streaming lease's credit, against a real task-service: credit is served the
moment it arrives, for each stream on its own, while every lease it was given is still
held and nothing was completed (no completion flush gates it); credit on an empty queue
is served when a task comes; a drain answers only once everything claimed for the stream
has arrived, so no claimed task is left in flight on the service's side."""

from __future__ import annotations

import asyncio
import uuid

from taskplane_client import AsyncTaskplaneClient, Completion, LeasedTask
from taskplane_client.stream import LeaseStream
from taskplane_testing import workers as kit
from taskplane_testing.workers import TaskService

#: Generous: a busy machine may take long, and nothing here is timed.
WAIT_S = 60


async def _receive(stream: LeaseStream, count: int) -> list[LeasedTask]:
    """Exactly ``count`` tasks from ``stream`` (more would be a bug in the credit)."""
    received: list[LeasedTask] = []
    while len(received) < count:
        received += await asyncio.wait_for(stream.tasks(), WAIT_S)
    assert len(received) == count, f"{len(received)} tasks dealt for {count} credit"
    return received


def _results(tasks: list[LeasedTask]) -> list[Completion]:
    return [Completion(lease_id=task.lease_id, result=task.payload) for task in tasks]


async def _exercise(service: TaskService, queue: str) -> tuple[int, int]:
    """Two streams on ``queue``; the tasks completed, and those drained back."""
    async with AsyncTaskplaneClient(service.url) as client:
        first = await client.lease_stream(queue, "credit-a")
        second = await client.lease_stream(queue, "credit-b")
        try:
            # Credit on an empty queue: served once tasks come (the queue's wake-up).
            await first.want(3)
            await second.want(2)
            payloads = [{"payload": {"n": n}} for n in range(10)]
            await asyncio.to_thread(kit.enqueue, service, queue, payloads)
            held = await _receive(first, 3)
            others = await _receive(second, 2)
            # More credit while all five leases are held and nothing was completed.
            await first.want(3)
            held += await _receive(first, 3)
            leased = held + others
            assert len({task.id for task in leased}) == 8, "a task was dealt twice"
            states = await asyncio.to_thread(kit.statuses, service, queue)
            assert states.get("in_progress") == 8, states
            # Credit, then a drain at once: the answer comes after every task claimed for
            # the stream (they are returned), and the stream is dealt nothing more.
            await second.want(2)
            drained = await second.drain()
            states = await asyncio.to_thread(kit.statuses, service, queue)
            assert states.get("in_progress") == 8 + len(drained), (states, len(drained))
            done = await first.complete_many(_results(held))
            done |= await second.complete_many(_results(others + drained))
            assert done == {task.lease_id for task in leased + drained}
            return len(done), len(drained)
        finally:
            await first.aclose()
            await second.aclose()


def test_credit_is_served_without_completions_and_drains_leave_nothing_in_flight(
    task_service: TaskService,
) -> None:
    queue = f"credit-{uuid.uuid4().hex[:6]}"
    kit.configure(task_service, queue, visibility_timeout_s=300)
    completed, drained = asyncio.run(_exercise(task_service, queue))
    states = kit.statuses(task_service, queue)
    assert states.get("completed") == completed == 8 + drained, states
    assert sum(states.values()) == 10, states
    assert "Traceback" not in task_service.log.read_text()
