"""Status of a TaskQueue from what the operator observed: counts, replicas, conditions.

Pure code. Conditions follow the Kubernetes API conventions that KEDA's ScaledObject
lacks: each carries observedGeneration, and lastTransitionTime moves only when the
condition's status changes (a new reason or message alone keeps the old time).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from taskplane_operator.client import QueueStats
from taskplane_operator.scaling import ScaleDecision

ConditionStatus = Literal["True", "False", "Unknown"]
CONDITION_TYPES = ("Ready", "Scaling", "Paused", "Degraded")


@dataclass(frozen=True)
class Problem:
    """Something that keeps the TaskQueue from its desired state (drives Degraded)."""

    reason: str
    message: str


@dataclass(frozen=True)
class Observation:
    """Everything one poll learned; None where a source could not be read."""

    generation: int | None
    queue: str
    paused: bool
    stats: QueueStats | None
    decision: ScaleDecision | None
    deployment_replicas: int | None  # spec.replicas of the worker Deployment
    pods: int  # status.replicas of the worker Deployment
    ready_pods: int
    selector: str
    last_scale_time: str | None
    problems: Sequence[Problem]


def timestamp(now: datetime.datetime) -> str:
    """RFC 3339 in UTC with seconds precision, as the API server writes metav1.Time."""
    return now.astimezone(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def condition(
    previous: Sequence[Mapping[str, Any]],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime.datetime,
) -> dict[str, Any]:
    """One condition, keeping lastTransitionTime if the previous status was the same."""
    old = next((c for c in previous if c.get("type") == type_), None)
    if old is not None and old.get("status") == status and old.get("lastTransitionTime"):
        transition = str(old["lastTransitionTime"])
    else:
        transition = timestamp(now)
    result: dict[str, Any] = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": transition,
    }
    if generation is not None:
        result["observedGeneration"] = generation
    return result


def build_status(
    obs: Observation,
    previous: Mapping[str, Any],
    now: datetime.datetime,
) -> dict[str, Any]:
    """The complete .status for one observation (written as a merge patch)."""
    old_conditions: Sequence[Mapping[str, Any]] = previous.get("conditions") or []
    desired = obs.decision.desired if obs.decision else obs.deployment_replicas
    status: dict[str, Any] = {
        "queueName": obs.queue,
        "replicas": obs.pods,
        "readyReplicas": obs.ready_pods,
        "selector": obs.selector,
    }
    if obs.generation is not None:
        status["observedGeneration"] = obs.generation
    if desired is not None:
        status["desiredReplicas"] = desired
    if obs.last_scale_time:
        status["lastScaleTime"] = obs.last_scale_time
    if obs.stats is not None:
        status.update(
            available=obs.stats.available,
            scheduled=obs.stats.scheduled,
            inFlight=obs.stats.in_flight,
            retrying=obs.stats.retrying,
            dead=obs.stats.dead,
        )
        # An empty queue has no oldest task: 0 reads better than a vanished column.
        status["oldestAvailableAgeSeconds"] = obs.stats.oldest_available_age_s
    else:  # keep the last known counts rather than pretending the queue is empty
        for key in ("available", "scheduled", "inFlight", "retrying", "dead"):
            if key in previous:
                status[key] = previous[key]
        if "oldestAvailableAgeSeconds" in previous:
            status["oldestAvailableAgeSeconds"] = previous["oldestAvailableAgeSeconds"]

    def cond(type_: str, value: ConditionStatus, reason: str, message: str) -> dict[str, Any]:
        return condition(old_conditions, type_, value, reason, message, obs.generation, now)

    status["conditions"] = [
        cond(*_ready(obs, desired)),
        cond(*_scaling(obs, desired)),
        cond(*_paused(obs)),
        cond(*_degraded(obs)),
    ]
    return status


Verdict = tuple[str, ConditionStatus, str, str]


def _ready(obs: Observation, desired: int | None) -> Verdict:
    if obs.problems:
        first = obs.problems[0]
        return "Ready", "False", first.reason, first.message
    if desired is None:
        return "Ready", "Unknown", "Pending", "worker Deployment not observed yet"
    if obs.ready_pods >= desired:
        if desired == 0:
            why = "paused" if obs.paused else "no tasks available or in flight"
            return "Ready", "True", "Idle", f"scaled to zero: {why}"
        return "Ready", "True", "WorkersReady", f"{obs.ready_pods}/{desired} workers ready"
    return "Ready", "False", "WorkersNotReady", f"{obs.ready_pods}/{desired} workers ready"


def _scaling(obs: Observation, desired: int | None) -> Verdict:
    if desired is None:
        return "Scaling", "Unknown", "Pending", "worker Deployment not observed yet"
    decision = obs.decision
    held = ""
    if decision is not None and decision.reason == "ScaleDownStabilizing":
        held = (
            f"; queue depth recommends {decision.recommendation} replica(s), held at {desired} "
            "until that has lasted scaleDownStabilizationSeconds"
        )
    if obs.ready_pods < desired:
        return "Scaling", "True", "ScalingUp", f"{obs.ready_pods}/{desired} workers ready{held}"
    if obs.pods > desired:
        return (
            "Scaling",
            "True",
            "ScalingDown",
            f"{obs.pods - desired} worker(s) finishing in-flight tasks before exiting",
        )
    if held:
        return "Scaling", "False", "ScaleDownStabilizing", held.removeprefix("; ")
    return "Scaling", "False", "Stable", f"{desired} replica(s) match the queue depth"


def _paused(obs: Observation) -> Verdict:
    if obs.paused:
        return "Paused", "True", "PausedBySpec", "spec.paused: leasing stopped, workers at zero"
    return "Paused", "False", "Active", "workers lease tasks"


def _degraded(obs: Observation) -> Verdict:
    if not obs.problems:
        return "Degraded", "False", "AsExpected", "no errors"
    first = obs.problems[0]
    message = "; ".join(f"{p.reason}: {p.message}" for p in obs.problems)
    return "Degraded", "True", first.reason, message
