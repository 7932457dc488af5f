"""Shared services and per-TaskQueue memory, kept in kopf's memo.

The operator-wide ``memo`` holds one Services (settings and the two HTTP clients);
kopf gives every TaskQueue a shallow copy of it, where ObjectState lives: the
stabilization window and the problems that drive the Degraded condition. Handlers
and the autoscaler daemon of one object share that copy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, cast

import kopf

from taskplane_operator import metrics
from taskplane_operator.client import TaskServiceClient
from taskplane_operator.kube import KubeClient
from taskplane_operator.scaling import RecommendationWindow
from taskplane_operator.settings import OperatorSettings
from taskplane_operator.status import Problem

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: OperatorSettings
    kube: KubeClient
    tasks: TaskServiceClient


@dataclass
class ObjectState:
    """In-memory only: after a restart the window is re-seeded conservatively."""

    window: RecommendationWindow = field(default_factory=RecommendationWindow)
    seeded: bool = False
    poll_interval_s: float = 5.0
    workers_reconciled: bool = False
    last_scale_time: str | None = None
    problems: dict[str, Problem] = field(default_factory=dict)


def services(memo: kopf.Memo) -> Services:
    return cast(Services, memo["services"])


def object_state(memo: kopf.Memo) -> ObjectState:
    return cast(ObjectState, memo.setdefault("state", ObjectState()))


def set_problem(
    body: kopf.Body,
    state: ObjectState,
    key: str,
    problem: Problem | None,
) -> None:
    """Record or clear one source of trouble; post an Event only when it changes.

    Events on every poll would flood ``kubectl describe``; one Warning when a problem
    appears (or its reason changes) and one Normal when it clears is the useful signal.
    """
    old = state.problems.get(key)
    where = f"{body.metadata.namespace}/{body.metadata.name}"
    if problem is None:
        if old is not None:
            del state.problems[key]
            logger.info("%s: %s resolved", where, old.reason)
            kopf.event(body, type="Normal", reason="Recovered", message=f"{old.reason} resolved")
        return
    state.problems[key] = problem
    metrics.ERRORS.labels(problem.reason).inc()
    if old is None or old.reason != problem.reason:
        logger.warning("%s: %s: %s", where, problem.reason, problem.message)
        kopf.warn(body, reason=problem.reason, message=problem.message)


def retry_delay(retry: int) -> float:
    """Exponential backoff for kopf.TemporaryError: 2, 4, 8, ... capped at two minutes."""
    return float(min(2 ** (retry + 1), 120))


def owner_of(body: kopf.Body) -> dict[str, Any]:
    """The parts of the TaskQueue that builders need (a plain dict, for kopf.adopt)."""
    meta = body.get("metadata", {})
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "labels": dict(meta.get("labels") or {}),
        },
    }
