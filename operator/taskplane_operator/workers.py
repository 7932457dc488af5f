"""A TaskQueue's workers: its children as declared, their identity bound to the queue,
and the replicas its depth asks for.

``apply_children`` is what the create/update handler calls; ``register`` puts the
queue's configuration and binds the workers' ServiceAccount to it; ``poll`` is one round of
the autoscaler daemon: put back drifted children, re-register a queue the task-service
lost or never got, read the depth, scale, and write the status from what it saw. Every
condition therefore reflects the latest poll.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import kopf

from taskplane_operator import desired, metrics
from taskplane_operator.client import QueueConfig, QueueNotFoundError, QueueStats, TaskServiceError
from taskplane_operator.cluster import KubernetesApiError
from taskplane_operator.model import InvalidSpecError, TaskQueueSpec, parse_spec, queue_name
from taskplane_operator.scaling import ScaleDecision, decide
from taskplane_operator.state import (
    INVALID_SPEC,
    ObjectState,
    Services,
    owner_of,
    problem_of,
    set_problem,
)
from taskplane_operator.status import Observation, Problem, build_status, timestamp

#: Poll interval while the spec cannot be parsed (it holds no usable interval).
INVALID_SPEC_POLL_S = 5.0
Action = Literal["created", "applied", "unchanged"]


@dataclass(frozen=True)
class Applied:
    """One child after apply_children: its live state and what had to be put back."""

    kind: str
    live: dict[str, Any]
    action: Action
    restored: list[str]


def spec_or_problem(body: kopf.Body, state: ObjectState) -> TaskQueueSpec | None:
    """The parsed spec, or None after recording InvalidSpec (one Warning per problem)."""
    try:
        spec = parse_spec(body.get("spec") or {})
    except InvalidSpecError as exc:
        set_problem(body, state, "spec", Problem(INVALID_SPEC, str(exc)))
        return None
    set_problem(body, state, "spec", None)
    return spec


def initial_replicas(spec: TaskQueueSpec) -> int:
    """Replicas of a new Deployment; the autoscaler's first poll corrects it at once."""
    if spec.paused:
        return 0
    if spec.replicas is not None:
        return spec.replicas
    return spec.scaling.min_replicas


async def apply_children(
    body: kopf.Body, spec: TaskQueueSpec, svc: Services, state: ObjectState
) -> list[Applied]:
    """Apply every child whose declared fields differ from the live object.

    The Deployment's ``replicas`` is declared as what runs (the autoscaler changes it,
    never an apply); fields the server rewrites on every apply (defaults, canonical
    quantities) are remembered per child and not counted as drift.
    """
    results = []
    for obj in desired.children(owner_of(body), spec, svc.settings, initial_replicas(spec)):
        kind, meta = obj["kind"], obj["metadata"]
        live = await svc.cluster.read(kind, meta["namespace"], meta["name"])
        if live is not None and kind == "Deployment":
            obj["spec"]["replicas"] = live.get("spec", {}).get("replicas", 1)
        normalized = state.normalized.get(kind, set())
        changed = [p for p in desired.drift(obj, live) if p not in normalized] if live else []
        action: Action = "created" if live is None else "applied" if changed else "unchanged"
        if live is None or changed:
            live = await svc.cluster.apply(obj)
            state.normalized[kind] = set(desired.drift(obj, live))
        results.append(Applied(kind, live, action, changed))
    state.applied_generation = body.metadata.get("generation")
    return results


async def register(body: kopf.Body, spec: TaskQueueSpec, svc: Services) -> str:
    """Configure the queue at the task-service and bind the workers' ServiceAccount to
    exactly that queue at the auth-service (both idempotent); returns the queue.

    The binding is what lets a worker pod's projected token become an access token for
    this queue, so no Secret ever has to reach the TaskQueue's namespace.
    """
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    queue = queue_name(spec, namespace, name)
    await svc.tasks.put_queue(queue, QueueConfig.from_spec(spec))
    await svc.tasks.bind_workload(namespace, desired.child_name(name), queue)
    return queue


def describe(applied: list[Applied]) -> str:
    """``Deployment applied, PodDisruptionBudget unchanged`` for the handler's log."""
    return ", ".join(f"{a.kind} {a.action}" for a in applied)


@contextlib.contextmanager
def observing(body: kopf.Body, state: ObjectState, key: str) -> Iterator[None]:
    """Within one poll: an error becomes problem ``key`` and the poll goes on without
    the value; success clears the problem. The poll never raises for these."""
    try:
        yield
    except (TaskServiceError, KubernetesApiError) as exc:
        set_problem(body, state, key, problem_of(exc))
        return
    set_problem(body, state, key, None)


async def poll(body: kopf.Body, svc: Services, state: ObjectState) -> float:
    """One round: children, registration, depth, scaling, status; returns the sleep."""
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    spec = spec_or_problem(body, state)
    if spec is None:
        await _report_invalid(body, svc, state)
        return INVALID_SPEC_POLL_S
    queue = queue_name(spec, namespace, name)
    labels = (namespace, name, queue)

    deployment: dict[str, Any] | None = None
    if state.applied_generation == body.metadata.get("generation") or "workers" in state.problems:
        # Children of this generation were applied once (or the handler keeps failing):
        # whatever differs now was changed by someone else, or is the handler's retry.
        with observing(body, state, "workers"):
            deployment = _deployment(await _correct_drift(body, spec, svc, state))
    if deployment is None:
        with observing(body, state, "deployment"):
            deployment = await svc.cluster.read("Deployment", namespace, desired.child_name(name))

    stats: QueueStats | None = None
    with observing(body, state, "stats"):
        stats = await _read_stats(body, svc, state, spec, queue)

    decision: ScaleDecision | None = None
    current = _replicas(deployment)
    if current is not None and (stats is not None or spec.paused or spec.replicas is not None):
        decision = _decide(spec, stats, current, state)
        if decision.desired != current:
            with observing(body, state, "scale"):
                await _scale(body, svc, state, current, decision, stats, labels)
        metrics.DESIRED_REPLICAS.labels(*labels).set(decision.desired)
    export_depth(stats, labels)

    observation = Observation(
        generation=body.metadata.get("generation"),
        queue=queue,
        paused=spec.paused,
        stats=stats,
        decision=decision,
        deployment_replicas=decision.desired if decision else current,
        pods=_pods(deployment, "replicas"),
        ready_pods=_pods(deployment, "readyReplicas"),
        selector=desired.selector_string(name),
        last_scale_time=state.last_scale_time or body.get("status", {}).get("lastScaleTime"),
        problems=problems(state),
    )
    metrics.READY_REPLICAS.labels(*labels).set(observation.ready_pods)
    await write_status(body, svc, observation)
    return float(spec.scaling.poll_interval_seconds)


def problems(state: ObjectState) -> list[Problem]:
    """Current problems, an invalid spec first: it is the one the user must fix first,
    and the one Ready and Degraded then name."""
    return sorted(state.problems.values(), key=lambda problem: problem.reason != INVALID_SPEC)


async def write_status(body: kopf.Body, svc: Services, observation: Observation) -> None:
    """Patch .status when anything in it changed (conditions keep their transition time)."""
    previous = dict(body.get("status") or {})
    status = build_status(observation, previous, datetime.datetime.now(datetime.UTC))
    if desired.drift(status, previous):
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""
        await svc.cluster.patch_status(namespace, name, status)


async def _report_invalid(body: kopf.Body, svc: Services, state: ObjectState) -> None:
    """A spec the operator cannot act on still gets honest conditions; workers untouched."""
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    deployment = None
    with observing(body, state, "deployment"):
        deployment = await svc.cluster.read("Deployment", namespace, desired.child_name(name))
    raw_queue = (body.get("spec") or {}).get("queueName")
    await write_status(
        body,
        svc,
        Observation(
            generation=body.metadata.get("generation"),
            queue=raw_queue if isinstance(raw_queue, str) else f"{namespace}.{name}",
            paused=bool((body.get("spec") or {}).get("paused")),
            stats=None,
            decision=None,
            deployment_replicas=_replicas(deployment),
            pods=_pods(deployment, "replicas"),
            ready_pods=_pods(deployment, "readyReplicas"),
            selector=desired.selector_string(name),
            last_scale_time=body.get("status", {}).get("lastScaleTime"),
            problems=problems(state),
        ),
    )


async def _correct_drift(
    body: kopf.Body, spec: TaskQueueSpec, svc: Services, state: ObjectState
) -> list[Applied]:
    """Put back what someone changed by hand, and say what in a Normal Event."""
    applied = await apply_children(body, spec, svc, state)
    for child in applied:
        if child.action == "created":
            what = f"recreated the missing {child.kind}"
        elif child.restored:
            what = f"put back {child.kind} {', '.join(child.restored)}"
        else:
            continue
        kopf.event(body, type="Normal", reason="DriftCorrected", message=what)
    return applied


def _deployment(applied: list[Applied]) -> dict[str, Any] | None:
    return next((a.live for a in applied if a.kind == "Deployment"), None)


async def _read_stats(
    body: kopf.Body, svc: Services, state: ObjectState, spec: TaskQueueSpec, queue: str
) -> QueueStats:
    """Queue depth; registers the queue (and binds its workers) first when the last
    registration failed, or when the task-service forgot it (404), so Degraded clears
    within a poll of recovery."""
    if "queue" in state.problems:
        with observing(body, state, "queue"):
            await register(body, spec, svc)
    try:
        return await svc.tasks.get_stats(queue)
    except QueueNotFoundError:
        await register(body, spec, svc)
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


def _replicas(deployment: dict[str, Any] | None) -> int | None:
    if deployment is None:
        return None
    return int(deployment.get("spec", {}).get("replicas", 1))


def _pods(deployment: dict[str, Any] | None, field: str) -> int:
    return int((deployment or {}).get("status", {}).get(field) or 0)


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
    metrics.OLDEST_AVAILABLE_AGE.labels(*labels).set(stats.oldest_available_age_s or 0.0)
