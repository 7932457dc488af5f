"""A TaskQueue's children (ServiceAccount, worker Deployment, PDB, PodMonitor): applied
as declared, and put back when someone changes them by hand.

``apply_children`` is what the create/update handler calls; ``correct_drift`` is the
autoscaler's per-poll check of the same, which says in an Event what it put back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import kopf

from taskplane_operator import desired
from taskplane_operator.model import TaskQueueSpec
from taskplane_operator.state import ObjectState, Services, owner_of

Action = Literal["created", "applied", "unchanged"]


@dataclass(frozen=True)
class Applied:
    """One child after apply_children: its live state and what had to be put back."""

    kind: str
    live: dict[str, Any]
    action: Action
    restored: list[str]


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
    quantities) are remembered per child and not counted as drift. The ServiceAccount's
    uid is remembered for the binding (registration.py): every poll reads it here anyway.
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
        if kind == "ServiceAccount":
            state.service_account_uid = live.get("metadata", {}).get("uid")
        results.append(Applied(kind, live, action, changed))
    state.applied_generation = body.metadata.get("generation")
    return results


def describe(applied: list[Applied]) -> str:
    """``Deployment applied, PodDisruptionBudget unchanged`` for the handler's log."""
    return ", ".join(f"{a.kind} {a.action}" for a in applied)


async def correct_drift(
    body: kopf.Body, spec: TaskQueueSpec, svc: Services, state: ObjectState
) -> dict[str, Any] | None:
    """Put back what someone changed by hand, say what in a Normal Event; returns the
    live worker Deployment."""
    applied = await apply_children(body, spec, svc, state)
    for child in applied:
        if child.action == "created":
            what = f"recreated the missing {child.kind}"
        elif child.restored:
            what = f"put back {child.kind} {', '.join(child.restored)}"
        else:
            continue
        kopf.event(body, type="Normal", reason="DriftCorrected", message=what)
    return next((a.live for a in applied if a.kind == "Deployment"), None)
