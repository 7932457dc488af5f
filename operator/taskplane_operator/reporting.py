"""Writing a TaskQueue's ``.status`` from what a poll observed (``status.py`` builds it).

Writes only when something in the status changed, so a steady queue costs no PATCH.
"""

from __future__ import annotations

import datetime
from typing import Any

import kopf

from taskplane_operator import desired
from taskplane_operator.client import QueueStats
from taskplane_operator.scaling import ScaleDecision
from taskplane_operator.state import INVALID_SPEC, ObjectState, Services, observing
from taskplane_operator.status import Observation, Problem, build_status


def problems(state: ObjectState) -> list[Problem]:
    """Current problems, an invalid spec first: it is the one the user must fix first,
    and the one Ready and Degraded then name."""
    return sorted(state.problems.values(), key=lambda problem: problem.reason != INVALID_SPEC)


def observation(
    body: kopf.Body,
    state: ObjectState,
    deployment: dict[str, Any] | None,
    *,
    queue: str,
    paused: bool,
    deployment_replicas: int | None,
    last_scale_time: str | None,
    stats: QueueStats | None = None,
    decision: ScaleDecision | None = None,
) -> Observation:
    """What a poll saw: the queue as the caller read it, and what every poll reads alike
    from the TaskQueue (generation, problems) and its worker Deployment (pods, selector)."""
    return Observation(
        generation=body.metadata.get("generation"),
        queue=queue,
        paused=paused,
        stats=stats,
        decision=decision,
        deployment_replicas=deployment_replicas,
        pods=pods(deployment, "replicas"),
        ready_pods=pods(deployment, "readyReplicas"),
        selector=desired.selector_string(body.metadata.name or ""),
        last_scale_time=last_scale_time,
        problems=problems(state),
    )


async def write_status(body: kopf.Body, svc: Services, observation: Observation) -> None:
    """Patch .status when anything in it changed (conditions keep their transition time)."""
    previous = dict(body.get("status") or {})
    status = build_status(observation, previous, datetime.datetime.now(datetime.UTC))
    if desired.drift(status, previous):
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""
        await svc.cluster.patch_status(namespace, name, status)


async def report_invalid(body: kopf.Body, svc: Services, state: ObjectState) -> None:
    """A spec the operator cannot act on still gets honest conditions; workers untouched."""
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    deployment = None
    with observing(body, state, "deployment"):
        deployment = await svc.cluster.read("Deployment", namespace, desired.child_name(name))
    raw_queue = (body.get("spec") or {}).get("queueName")
    await write_status(
        body,
        svc,
        observation(
            body,
            state,
            deployment,
            queue=raw_queue if isinstance(raw_queue, str) else f"{namespace}.{name}",
            paused=bool((body.get("spec") or {}).get("paused")),
            deployment_replicas=replicas(deployment),
            last_scale_time=body.get("status", {}).get("lastScaleTime"),
        ),
    )


def replicas(deployment: dict[str, Any] | None) -> int | None:
    """What the worker Deployment asks for (its spec), None when it was not read."""
    if deployment is None:
        return None
    return int(deployment.get("spec", {}).get("replicas", 1))


def pods(deployment: dict[str, Any] | None, field: str) -> int:
    """A pod count from the Deployment's status (0 before the controller wrote one)."""
    return int((deployment or {}).get("status", {}).get(field) or 0)
