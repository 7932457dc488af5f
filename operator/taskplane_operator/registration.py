"""The queue at the task-service and its workers' binding at the auth-service.

The autoscaler's poll is the one caller: it registers a new TaskQueue at its first
poll, again after a spec change that alters what is registered, after a failed attempt,
when the workers' ServiceAccount has a new uid (someone deleted it and the operator
recreated it), and when the task-service has forgotten the queue (404). Anything else is
a no-op, so a new TaskQueue costs one queue PUT and one binding PUT, and a steady poll
none.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import kopf

from taskplane_operator import desired
from taskplane_operator.client import QueueConfig
from taskplane_operator.model import TaskQueueSpec, queue_name
from taskplane_operator.state import ObjectState, Registration, Services

logger = logging.getLogger(__name__)


def wanted(body: kopf.Body, spec: TaskQueueSpec, service_account_uid: str | None) -> Registration:
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    return Registration(
        queue=queue_name(spec, namespace, name),
        config=QueueConfig.from_spec(spec),
        namespace=namespace,
        service_account=desired.child_name(name),
        service_account_uid=service_account_uid,
    )


async def ensure(body: kopf.Body, spec: TaskQueueSpec, svc: Services, state: ObjectState) -> str:
    """Register unless exactly this registration already succeeded; returns the queue.

    The binding is what lets a worker pod's projected token become an access token for
    this queue, so no Secret ever has to reach the TaskQueue's namespace. A new uid alone
    (a recreated ServiceAccount) needs only the binding PUT. Both calls are idempotent; a
    failure leaves nothing recorded, so the next poll tries again.
    """
    registration = wanted(body, spec, state.service_account_uid)
    previous, state.registered = state.registered, None
    if previous == registration:
        state.registered = previous
        return registration.queue
    uid = registration.service_account_uid
    if previous is None or replace(previous, service_account_uid=uid) != registration:
        await svc.tasks.put_queue(registration.queue, registration.config)
    await svc.tasks.bind_workload(
        registration.namespace,
        registration.service_account,
        registration.queue,
        registration.service_account_uid,
    )
    state.registered = registration
    logger.info(
        "%s/%s: queue %s configured (paused=%s), workers (ServiceAccount uid %s) bound to it",
        registration.namespace,
        body.metadata.name,
        registration.queue,
        spec.paused,
        uid,
    )
    return registration.queue


def forget(state: ObjectState) -> None:
    """The task-service no longer has the queue: the next ``ensure`` registers it."""
    state.registered = None
