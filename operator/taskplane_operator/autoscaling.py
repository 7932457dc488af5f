"""One TaskQueue's autoscaler: each poll puts back drifted children, registers the
queue when it needs to be (``registration``), reads the depth, scales, and writes the
status from what it saw, so every condition reflects the latest poll.
"""

from __future__ import annotations

import asyncio
import datetime
import time

import kopf

from taskplane_operator import children, desired, metrics, registration
from taskplane_operator.client import QueueNotFoundError, QueueStats
from taskplane_operator.model import TaskQueueSpec, queue_name
from taskplane_operator.reporting import observation, replicas, report_invalid, write_status
from taskplane_operator.scaling import ScaleDecision, decide
from taskplane_operator.state import ObjectState, Services, observing, spec_or_problem
from taskplane_operator.status import timestamp

#: Poll interval while the spec cannot be parsed (it holds no usable interval).
INVALID_SPEC_POLL_S = 5.0


async def poll(body: kopf.Body, svc: Services, state: ObjectState) -> float:
    """One round: children, registration, depth, scaling, status; returns the sleep."""
    state.spec_changed.clear()  # this round reads the spec as it is now
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    spec = spec_or_problem(body, state)
    if spec is None:
        await report_invalid(body, svc, state)
        return INVALID_SPEC_POLL_S
    queue = queue_name(spec, namespace, name)
    labels = (namespace, name, queue)

    deployment = None
    if state.applied_generation == body.metadata.get("generation") or "workers" in state.problems:
        # Children of this generation were applied once (or the handler keeps failing):
        # whatever differs now was changed by someone else, or is the handler's retry.
        with observing(body, state, "workers"):
            deployment = await children.correct_drift(body, spec, svc, state)
    if deployment is None:
        with observing(body, state, "deployment"):
            deployment = await svc.cluster.read("Deployment", namespace, desired.child_name(name))

    with observing(body, state, "queue"):
        await registration.ensure(body, spec, svc, state)
    stats: QueueStats | None = None
    with observing(body, state, "stats"):
        stats = await _read_stats(body, svc, state, spec, queue)

    decision: ScaleDecision | None = None
    current = replicas(deployment)
    if current is not None and (stats is not None or spec.paused or spec.replicas is not None):
        decision = _decide(spec, stats, current, state)
        if decision.desired != current:
            with observing(body, state, "scale"):
                await _scale(body, svc, state, current, decision, stats, labels)
        metrics.DESIRED_REPLICAS.labels(*labels).set(decision.desired)
    export_depth(stats, labels)

    seen = observation(
        body,
        state,
        deployment,
        queue=queue,
        paused=spec.paused,
        stats=stats,
        decision=decision,
        deployment_replicas=decision.desired if decision else current,
        last_scale_time=state.last_scale_time or body.get("status", {}).get("lastScaleTime"),
    )
    metrics.READY_REPLICAS.labels(*labels).set(seen.ready_pods)
    await write_status(body, svc, seen)
    return float(spec.scaling.poll_interval_seconds)


async def sleep(stopped: kopf.DaemonStopped, state: ObjectState) -> None:
    """Wait the poll interval, cut short when kopf stops the daemon or the spec changes
    (a new configuration reaches the task-service at once, not a poll later)."""

    async def until_stopped() -> None:
        await stopped.wait(state.poll_interval_s)

    waiters = [
        asyncio.ensure_future(until_stopped()),
        asyncio.ensure_future(state.spec_changed.wait()),
    ]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _read_stats(
    body: kopf.Body, svc: Services, state: ObjectState, spec: TaskQueueSpec, queue: str
) -> QueueStats:
    """Queue depth; a queue the task-service forgot (404) is registered again first, so
    Degraded clears within a poll of recovery."""
    try:
        return await svc.tasks.get_stats(queue)
    except QueueNotFoundError:
        registration.forget(state)
        await registration.ensure(body, spec, svc, state)
        return await svc.tasks.get_stats(queue)


def _decide(
    spec: TaskQueueSpec, stats: QueueStats | None, current: int, state: ObjectState
) -> ScaleDecision:
    if not state.seeded:
        state.window.seed(time.monotonic(), current)
        state.seeded = True
    return decide(
        spec_scaling=spec.scaling,
        paused=spec.paused,
        override=spec.replicas,
        available=stats.available if stats else 0,
        in_flight=stats.in_flight if stats else 0,
        current=current,
        window=state.window,
        now=time.monotonic(),
    )


async def _scale(
    body: kopf.Body,
    svc: Services,
    state: ObjectState,
    current: int,
    decision: ScaleDecision,
    stats: QueueStats | None,
    labels: tuple[str, str, str],
) -> None:
    """Set the Deployment's replicas and say why in an Event (the numbers KEDA users ask for)."""
    namespace, name = labels[0], labels[1]
    await svc.cluster.set_replicas(namespace, desired.child_name(name), decision.desired)
    state.last_scale_time = timestamp(datetime.datetime.now(datetime.UTC))
    metrics.SCALING_DECISIONS.labels(*labels, decision.direction).inc()
    if stats is not None and decision.reason == "QueueDepth":
        why = (
            f"{stats.available} available + {stats.in_flight} in flight, "
            f"target {decision.recommendation} replica(s)"
        )
    else:
        why = decision.reason
    verb = "ScaledUp" if decision.direction == "up" else "ScaledDown"
    kopf.event(
        body, type="Normal", reason=verb, message=f"workers {current} -> {decision.desired}: {why}"
    )


def export_depth(stats: QueueStats | None, labels: tuple[str, str, str]) -> None:
    """The depth gauges; an empty queue's oldest age is 0, as in the status."""
    if stats is None:
        return
    for state in metrics.QUEUE_STATES:
        metrics.QUEUE_DEPTH.labels(*labels, state).set(getattr(stats, state))
    metrics.OLDEST_AVAILABLE_AGE.labels(*labels).set(stats.oldest_available_age_s)
