"""Deletion policies of a TaskQueue: Retain, Drain or Delete the queue, then revoke its
workers' binding (every policy) and let it go.

Called by the delete handler while the finalizer holds the object. A policy that must
wait (Drain with tasks left) raises kopf.TemporaryError with the poll interval as delay.
"""

from __future__ import annotations

import datetime

import kopf

from taskplane_operator import desired
from taskplane_operator.client import QueueNotFoundError, TaskServiceError
from taskplane_operator.cluster import KubernetesApiError
from taskplane_operator.model import TaskQueueSpec, queue_name
from taskplane_operator.scaling import recommend
from taskplane_operator.state import Services


async def apply_policy(
    body: kopf.Body, spec: TaskQueueSpec, svc: Services, runtime: datetime.timedelta
) -> str:
    """Carry out spec.deletionPolicy, then revoke the workers' binding (after a drain:
    draining workers still need it); returns the queue name. Errors propagate until
    ``deletionTimeoutSeconds``, then a Warning Event is posted and deletion proceeds."""
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    queue = queue_name(spec, namespace, name)
    timed_out = runtime.total_seconds() >= spec.deletion_timeout_seconds
    try:
        if spec.deletion_policy == "Delete":
            await _delete_queue(body, svc, queue)
        elif spec.deletion_policy == "Drain":
            await _drain(body, spec, svc, queue, timed_out)
        await svc.tasks.unbind_workload(namespace, desired.child_name(name))
    except (TaskServiceError, KubernetesApiError) as exc:
        if not timed_out:
            raise
        kopf.event(
            body,
            type="Warning",
            reason="DeletionTimedOut",
            message=f"gave up after {spec.deletion_timeout_seconds}s: {exc.message}",
        )
    return queue


async def _delete_queue(body: kopf.Body, svc: Services, queue: str) -> None:
    if await svc.tasks.delete_queue(queue):
        kopf.event(body, type="Normal", reason="QueueDeleted", message=f"queue {queue} deleted")
    else:
        kopf.event(
            body,
            type="Normal",
            reason="QueueNotDeleted",
            message=f"task-service has no DELETE for queue {queue} (404/405); left in place",
        )


async def _drain(
    body: kopf.Body, spec: TaskQueueSpec, svc: Services, queue: str, timed_out: bool
) -> None:
    """Keep workers running until nothing is available, in flight or awaiting a retry.

    The autoscaler daemon is already stopped here, so this owns the replicas: never
    fewer than now, at least one while work remains.
    """
    try:
        stats = await svc.tasks.get_stats(queue)
    except QueueNotFoundError:
        return
    remaining = stats.available + stats.in_flight + stats.retrying
    if remaining == 0:
        kopf.event(body, type="Normal", reason="Drained", message=f"queue {queue} is empty")
        return
    if timed_out:
        kopf.event(
            body,
            type="Warning",
            reason="DrainTimedOut",
            message=f"{remaining} task(s) left in {queue} after "
            f"{spec.deletion_timeout_seconds}s; deleting the workers anyway",
        )
        return
    namespace, name = body.metadata.namespace or "", desired.child_name(body.metadata.name or "")
    deployment = await svc.cluster.read("Deployment", namespace, name)
    if deployment is not None:
        current = int(deployment.get("spec", {}).get("replicas", 1))
        want = max(current, recommend(stats.available, stats.in_flight, spec.scaling), 1)
        if want != current:
            await svc.cluster.set_replicas(namespace, name, want)
    paused = " (queue is paused: unpause it or it will not drain)" if spec.paused else ""
    raise kopf.TemporaryError(
        f"draining {queue}: {remaining} task(s) left{paused}",
        delay=spec.scaling.poll_interval_seconds,
    )
