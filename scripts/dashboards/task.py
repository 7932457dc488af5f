"""The task dashboard: one task's log lines across services, found by task id and
trace id."""

from __future__ import annotations

from .panels import NS, Dashboard, Logs

TASK = Dashboard(
    "taskplane-task",
    "taskplane task",
    (
        Logs(
            "Lines naming the task",
            f'{{{NS}}} |= "$task_id" | json',
            "Every line that names the task id: the worker's lines for a task that failed, "
            "timed out or was released (field task_id) and, at DEBUG, request lines of its "
            "routes. Copy a line's trace_id into the trace variable for the whole trace, or "
            "find it in Jaeger by the tag messaging.message.id=<task id>.",
        ),
        Logs(
            "The task's trace: every service's lines",
            f'{{{NS}}} |= "$trace_id" | json | trace_id="$trace_id"',
            "Lines of every service written inside the task's trace: the enqueue, the "
            "lease completion, the handler and the deliveries (trace_id opens it in Jaeger).",
        ),
    ),
    variables=("task_id", "trace_id"),
)
