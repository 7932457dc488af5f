"""The per-TaskQueue autoscaler: a kopf daemon that polls the queue and scales workers.

A daemon rather than a timer because kopf fixes a timer's interval at decoration
time, while spec.scaling.pollIntervalSeconds differs per object and may change: the
daemon re-reads it from its live body before every sleep. The daemon also holds the
stabilization window in memory between polls, as the HPA does.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

import kopf
from pydantic import ValidationError

from taskplane_operator import desired, metrics
from taskplane_operator.client import QueueConfig, QueueNotFoundError, QueueStats, TaskServiceError
from taskplane_operator.handlers import ensure_workers
from taskplane_operator.kube import KubeApiError, is_subset, path_for
from taskplane_operator.model import (
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    TaskQueueSpec,
    parse_spec,
    queue_name,
)
from taskplane_operator.runtime import ObjectState, Services, object_state, services, set_problem
from taskplane_operator.scaling import ScaleDecision, decide
from taskplane_operator.status import Observation, Problem, build_status, timestamp

INVALID_SPEC_RETRY_S = 30.0


@kopf.daemon(
    GROUP,
    VERSION,
    PLURAL,
    id="autoscaler",
    cancellation_backoff=5.0,  # let a poll in progress finish ...
    cancellation_timeout=10.0,  # ... but never let a hung one block deletion
)
async def autoscaler(
    body: kopf.Body,
    memo: kopf.Memo,
    logger: kopf.Logger,
    stopped: kopf.DaemonStopped,
    **_: Any,
) -> None:
    """Poll, scale and report until kopf stops us (object deleted or operator exit).

    A poll in progress finishes before the daemon exits; kopf cancels it only if a poll
    hangs on an unresponsive API past the backoff.
    """
    svc, state = services(memo), object_state(memo)
    while not stopped:
        started = time.monotonic()
        try:
            state.poll_interval_s = await poll(body, svc, state)
        except KubeApiError as exc:  # the status write itself failed: only a log can tell
            logger.warning("autoscaler could not write status: %s", exc.message)
        finally:
            metrics.POLL_SECONDS.observe(time.monotonic() - started)
        await stopped.wait(state.poll_interval_s)


async def poll(body: kopf.Body, svc: Services, state: ObjectState) -> float:
    """One round: read stats and the Deployment, scale, write status; return the sleep."""
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    try:
        spec = parse_spec(body.get("spec") or {})
    except ValidationError as exc:
        set_problem(body, state, "spec", Problem("InvalidSpec", f"invalid spec: {exc}"))
        return INVALID_SPEC_RETRY_S
    set_problem(body, state, "spec", None)
    queue = queue_name(spec, namespace, name)
    labels = (namespace, name, queue)

    stats = await _read_stats(body, svc, state, spec, queue)
    deployment_path = path_for("apps/v1", "Deployment", namespace, desired.child_name(name))
    deployment = await _read_deployment(body, svc, state, spec, deployment_path)

    decision: ScaleDecision | None = None
    current = _replicas(deployment)
    if current is not None and (stats is not None or spec.paused or spec.replicas is not None):
        if not state.seeded:
            state.window.seed(time.monotonic(), current)
            state.seeded = True
        decision = decide(
            spec_scaling=spec.scaling,
            paused=spec.paused,
            override=spec.replicas,
            available=stats.available if stats else 0,
            in_flight=stats.in_flight if stats else 0,
            current=current,
            window=state.window,
            now=time.monotonic(),
        )
        if decision.desired != current:
            try:
                await _scale(body, svc, state, deployment_path, current, decision, stats, labels)
            except KubeApiError as exc:
                set_problem(body, state, "scale", Problem("KubernetesApiError", exc.message))
            else:
                set_problem(body, state, "scale", None)
        metrics.DESIRED_REPLICAS.labels(*labels).set(decision.desired)
    _export_depth(stats, labels)

    observation = Observation(
        generation=body.metadata.get("generation"),
        queue=queue,
        paused=spec.paused,
        stats=stats,
        decision=decision,
        deployment_replicas=decision.desired if decision else current,
        pods=int((deployment or {}).get("status", {}).get("replicas") or 0),
        ready_pods=int((deployment or {}).get("status", {}).get("readyReplicas") or 0),
        selector=desired.selector_string(name),
        last_scale_time=state.last_scale_time or body.get("status", {}).get("lastScaleTime"),
        problems=list(state.problems.values()),
    )
    previous = dict(body.get("status") or {})
    status = build_status(observation, previous, datetime.datetime.now(datetime.UTC))
    if not is_subset(status, previous):
        path = path_for(API_VERSION, KIND, namespace, name, "status")
        await svc.kube.merge_patch(path, {"status": status})
    return float(spec.scaling.poll_interval_seconds)


async def _read_stats(
    body: kopf.Body, svc: Services, state: ObjectState, spec: TaskQueueSpec, queue: str
) -> QueueStats | None:
    """Queue depth, re-registering a queue the task-service forgot; None if unreadable."""
    try:
        try:
            stats = await svc.tasks.get_stats(queue)
        except QueueNotFoundError:
            await svc.tasks.put_queue(queue, QueueConfig.from_spec(spec))
            stats = await svc.tasks.get_stats(queue)
    except TaskServiceError as exc:
        # Keep the workers as they are: scaling blind could stop work in progress.
        set_problem(body, state, "stats", Problem(exc.reason, exc.message))
        return None
    set_problem(body, state, "stats", None)
    return stats


async def _read_deployment(
    body: kopf.Body, svc: Services, state: ObjectState, spec: TaskQueueSpec, path: str
) -> dict[str, Any] | None:
    """The worker Deployment; recreated if someone deleted it after we made it."""
    try:
        deployment = await svc.kube.get(path)
        if deployment is None and state.workers_reconciled and "workers" not in state.problems:
            await ensure_workers(body, spec, svc)
            kopf.warn(body, reason="WorkersRecreated", message="worker Deployment was missing")
            deployment = await svc.kube.get(path)
    except KubeApiError as exc:
        set_problem(body, state, "deployment", Problem("KubernetesApiError", exc.message))
        return None
    set_problem(body, state, "deployment", None)
    return deployment


def _replicas(deployment: dict[str, Any] | None) -> int | None:
    if deployment is None:
        return None
    return int(deployment.get("spec", {}).get("replicas", 1))


async def _scale(
    body: kopf.Body,
    svc: Services,
    state: ObjectState,
    path: str,
    current: int,
    decision: ScaleDecision,
    stats: QueueStats | None,
    labels: tuple[str, str, str],
) -> None:
    """Patch spec.replicas and say why in an Event (the numbers KEDA users ask for)."""
    await svc.kube.merge_patch(path, {"spec": {"replicas": decision.desired}})
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


def _export_depth(stats: QueueStats | None, labels: tuple[str, str, str]) -> None:
    if stats is None:
        return
    for state in metrics.QUEUE_STATES:
        metrics.QUEUE_DEPTH.labels(*labels, state).set(getattr(stats, state))
    if stats.oldest_available_age_s is not None:
        metrics.OLDEST_AVAILABLE_AGE.labels(*labels).set(stats.oldest_available_age_s)
