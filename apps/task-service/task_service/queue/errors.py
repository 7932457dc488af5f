"""What the queue engine refuses, as domain errors; the API maps them to problem+json
in one place (``task_service.api.problems``)."""

# Domain names (QueueNotFound, LeaseConflict, ...) read better without an Error suffix.
# ruff: noqa: N818

from __future__ import annotations

import uuid


class QueueError(Exception):
    """Base of the engine's refusals; ``str(error)`` is the explanation for the caller,
    ``extra`` what else it needs to act on it."""

    extra: dict[str, str] = {}  # noqa: RUF012 - read-only default, instances replace it


class QueueNotFound(QueueError):
    def __init__(self, queue: str) -> None:
        super().__init__(f"queue {queue!r} does not exist")


class QueueBusy(QueueError):
    def __init__(self, queue: str, in_flight: int) -> None:
        super().__init__(
            f"queue {queue!r} has {in_flight} task(s) in flight; retry with ?force=true"
        )


class LeaseConflict(QueueError):
    def __init__(self, lease_id: uuid.UUID) -> None:
        super().__init__(f"lease {lease_id} is unknown, expired or held by another worker")


class LeaseOutOfScope(QueueError):
    """A caller bound to one queue (a workload's token) acted on another queue's lease."""

    def __init__(self, queue: str) -> None:
        super().__init__(f"this token may only act on tasks of queue {queue!r}")


class DedupeRace(QueueError):
    """The live holder of a dedupe key finished while the enqueue ran; a retry resolves it."""

    def __init__(self) -> None:
        super().__init__("a task with the same dedupe_key changed concurrently; retry")


class DedupeConflict(QueueError):
    def __init__(self) -> None:
        super().__init__("another live task holds this task's dedupe_key")


class DeadTaskNotFound(QueueError):
    def __init__(self, queue: str, task_id: uuid.UUID) -> None:
        super().__init__(f"no dead task {task_id} in queue {queue!r}")


class TaskNotFound(QueueError):
    def __init__(self, task_id: uuid.UUID) -> None:
        super().__init__(f"task {task_id} does not exist")


class NotQueued(QueueError):
    def __init__(self, task_id: uuid.UUID) -> None:
        super().__init__(
            f"task {task_id} is not a queue job; change its status with"
            f" PATCH /api/v1/tasks/{task_id}"
        )


class TaskFinished(QueueError):
    def __init__(self, task_id: uuid.UUID, status: str) -> None:
        super().__init__(f"task {task_id} is already {status}")


class FeedCursorExpired(QueueError):
    """Retention deleted events after this cursor: resuming would skip them silently."""

    def __init__(self, cursor: str, horizon: str) -> None:
        super().__init__(
            f"events after cursor {cursor!r} were deleted by retention; the oldest "
            f"events kept follow cursor {horizon!r} (resume there to accept the gap)"
        )
        self.extra = {"resume_after": horizon}
