"""Deletion policies of a TaskQueue: Retain, Drain or Delete the queue, then revoke its
workers' binding (every policy, whatever became of the policy step) and let it go.

Called by the delete handler while the finalizer holds the object. A policy that must
wait (Drain with tasks left) raises kopf.TemporaryError with the poll interval as delay.
"""

from __future__ import annotations

import asyncio
import datetime
import time

import kopf

from taskplane_operator import desired
from taskplane_operator.client import QueueNotFoundError, TaskServiceError
from taskplane_operator.cluster import KubernetesApiError
from taskplane_operator.model import TaskQueueSpec, queue_name
from taskplane_operator.scaling import recommend
from taskplane_operator.state import Services

#: Pause between two tries of the revocation: doubling from the first, capped.
REVOKE_RETRY_FIRST_S = 1.0
REVOKE_RETRY_MAX_S = 15.0


async def apply_policy(
    body: kopf.Body, spec: TaskQueueSpec, svc: Services, runtime: datetime.timedelta
) -> str:
    """Carry out spec.deletionPolicy, then revoke the workers' binding; returns the queue
    name.

    A failing policy step propagates (kopf retries it) until ``deletionTimeoutSeconds``;
    then a Warning Event is posted and the revocation runs all the same. The revocation
    comes after the policy step (draining workers still need their binding) and is
    retried here until it succeeds or its own ``deletionTimeoutSeconds`` pass; a binding
    still there then is named in a Warning Event and deletion proceeds.
    """
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    queue = queue_name(spec, namespace, name)
    timed_out = runtime.total_seconds() >= spec.deletion_timeout_seconds
    try:
        if spec.deletion_policy == "Delete":
            await _delete_queue(body, svc, queue)
        elif spec.deletion_policy == "Drain":
            await _drain(body, spec, svc, queue, timed_out)
    except (TaskServiceError, KubernetesApiError) as exc:
        if not timed_out:
            raise
        kopf.event(
            body,
            type="Warning",
            reason="DeletionTimedOut",
            message=f"gave up after {spec.deletion_timeout_seconds}s: {exc.message}",
        )
    await _revoke(body, svc, namespace, desired.child_name(name), queue, spec)
    return queue


async def _revoke(
    body: kopf.Body,
    svc: Services,
    namespace: str,
    service_account: str,
    queue: str,
    spec: TaskQueueSpec,
) -> None:
    """Delete the binding, retrying until it is gone or ``deletionTimeoutSeconds`` pass."""
    deadline = time.monotonic() + spec.deletion_timeout_seconds
    pause = REVOKE_RETRY_FIRST_S
    while True:
        try:
            await svc.tasks.unbind_workload(namespace, service_account)
            return
        except TaskServiceError as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                kopf.event(
                    body,
                    type="Warning",
                    reason="BindingNotRevoked",
                    message=(
                        f"ServiceAccount {namespace}/{service_account} is still bound to "
                        f"queue {queue} after {spec.deletion_timeout_seconds}s of retries "
                        f"({exc.message}); delete the binding by hand"
                    ),
                )
                return
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, REVOKE_RETRY_MAX_S)


async def _delete_queue(body: kopf.Body, svc: Services, queue: str) -> None:
    if await svc.tasks.delete_queue(queue):
        kopf.event(body, type="Normal", reason="QueueDeleted", message=f"queue {queue} deleted")
    else:
        kopf.event(
            body,
            type="Normal",
            reason="QueueAlreadyGone",
            message=f"queue {queue} was already gone at the task-service",
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
