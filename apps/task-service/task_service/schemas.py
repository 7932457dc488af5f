"""Request and response bodies of the tasks API: the client's wire types, and the
conversion of a task row to its API shape."""

from __future__ import annotations

import taskplane_client.models as wire
from task_service.models import Priority
from task_service.models import Task as TaskRow

#: The wire types are the client's (one definition for both sides); the names here are
#: the ones this service's code uses.
PriorityLabel = wire.Priority
SettableStatus = wire.SettableStatus
StatusLabel = wire.Status
Title = wire.Title
TaskCreate = wire.TaskCreate
TaskUpdate = wire.TaskUpdate
QueueDetails = wire.QueueDetails
TaskOut = wire.Task
TaskPage = wire.TaskPage
TaskStats = wire.TaskStats


def queue_details(task: TaskRow) -> QueueDetails | None:
    """How a queued task is doing; ``None`` for a task that is not in a queue."""
    if task.queue is None:
        return None
    return QueueDetails(
        name=task.queue,
        payload=task.payload or {},
        attempts=task.attempts,
        max_attempts=task.max_attempts,
        run_at=task.run_at,
        timeout_s=task.timeout_s,
        dedupe_key=task.dedupe_key,
        last_error=task.last_error,
        result=task.result,
    )


def task_out(task: TaskRow) -> TaskOut:
    """The API shape of a task row."""
    return TaskOut(
        id=task.id,
        title=task.title,
        description=task.description,
        status=task.status,
        priority=Priority(task.priority).label,
        due_at=task.due_at,
        tags=list(task.tags),
        assignee_id=task.assignee_id,
        owner_id=task.owner_id,
        version=task.version,
        created_at=task.created_at,
        updated_at=task.updated_at,
        completed_at=task.completed_at,
        queue=queue_details(task),
    )
