"""What the operator keeps in kopf's memo, and its failure policies (handlers, polls).

The operator-wide ``memo`` holds one Services (settings and the two clients); kopf gives
every TaskQueue a shallow copy of it, where ObjectState lives: the stabilization window
and the problems that drive the Degraded condition. Handlers and the autoscaler daemon
of one object share that copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import kopf

from taskplane_operator import metrics
from taskplane_operator.client import QueueConfig, TaskServiceClient, TaskServiceError
from taskplane_operator.cluster import Cluster, KubernetesApiError
from taskplane_operator.model import InvalidSpecError, TaskQueueSpec, parse_spec
from taskplane_operator.scaling import RecommendationWindow
from taskplane_operator.settings import OperatorSettings
from taskplane_operator.status import Problem

logger = logging.getLogger(__name__)

INVALID_SPEC = "InvalidSpec"


@dataclass
class Services:
    settings: OperatorSettings
    cluster: Cluster
    tasks: TaskServiceClient


@dataclass(frozen=True)
class Registration:
    """What is registered: the queue's configuration and the binding of the workers'
    ServiceAccount (in the TaskQueue's namespace, with that uid) to that queue.

    The auth-service refuses tokens of a ServiceAccount whose uid differs from the
    binding's, so the uid is part of what is registered. None (the ServiceAccount not
    seen yet) binds without one: the auth-service records the first token's uid.
    """

    queue: str
    config: QueueConfig
    namespace: str
    service_account: str
    service_account_uid: str | None


@dataclass
class ObjectState:
    """In-memory only: after a restart the window is re-seeded conservatively."""

    window: RecommendationWindow = field(default_factory=RecommendationWindow)
    seeded: bool = False
    poll_interval_s: float = 5.0
    #: Generation whose children were last applied; drift is judged against it only.
    applied_generation: int | None = None
    #: Per child kind, paths the API server rewrites on every apply (not drift).
    normalized: dict[str, set[str]] = field(default_factory=dict)
    last_scale_time: str | None = None
    problems: dict[str, Problem] = field(default_factory=dict)
    #: ``metadata.uid`` of the workers' ServiceAccount as last read or applied (None:
    #: not seen yet); a recreated ServiceAccount has a new one, which needs a new binding.
    service_account_uid: str | None = None
    #: What the last successful registration put (None: register at the next poll).
    registered: Registration | None = None
    #: Set by the spec handler: the autoscaler polls at once instead of sleeping on.
    spec_changed: asyncio.Event = field(default_factory=asyncio.Event)
    #: Held by the handler's apply and by each poll: an apply declares the replicas it
    #: just read, so it must not interleave with the autoscaler changing them.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def services(memo: kopf.Memo) -> Services:
    return cast(Services, memo["services"])


def object_state(memo: kopf.Memo) -> ObjectState:
    return cast(ObjectState, memo.setdefault("state", ObjectState()))


def set_problem(body: kopf.Body, state: ObjectState, key: str, problem: Problem | None) -> None:
    """Record or clear one source of trouble; post an Event only when it changes.

    Events on every poll would flood ``kubectl describe``: one Warning when a problem
    appears (or becomes a different one) and one Normal when it clears is the signal.
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
    if old is None or old.reason != problem.reason or _new_invalid_spec(old, problem):
        logger.warning("%s: %s: %s", where, problem.reason, problem.message)
        kopf.event(body, type="Warning", reason=problem.reason, message=problem.message)


def _new_invalid_spec(old: Problem, new: Problem) -> bool:
    """Another bad field is another problem; a transient error's wording is not."""
    return new.reason == INVALID_SPEC and old.message != new.message


def spec_or_problem(body: kopf.Body, state: ObjectState) -> TaskQueueSpec | None:
    """The parsed spec, or None after recording InvalidSpec (one Warning per problem)."""
    try:
        spec = parse_spec(body.get("spec") or {})
    except InvalidSpecError as exc:
        set_problem(body, state, "spec", Problem(INVALID_SPEC, str(exc)))
        return None
    set_problem(body, state, "spec", None)
    return spec


def retry_delay(retry: int) -> float:
    """Exponential backoff for kopf.TemporaryError: 2, 4, 8, ... capped at two minutes."""
    return float(min(2 ** (retry + 1), 120))


def problem_of(exc: TaskServiceError | KubernetesApiError) -> Problem:
    if isinstance(exc, TaskServiceError):
        return Problem(exc.reason, exc.message)
    return Problem("KubernetesApiError", exc.message)


@contextlib.contextmanager
def step(body: kopf.Body, state: ObjectState, key: str, handler: str, retry: int) -> Iterator[None]:
    """The failure policy of every handler, in one place.

    A task-service or Kubernetes error becomes the problem ``key`` (Degraded, one
    Warning Event), counts as a retry and is retried by kopf with backoff; success
    clears the problem and counts as a success. Nothing else is caught: a bug should
    show as kopf's own error, not as a condition.
    """
    try:
        yield
    except (TaskServiceError, KubernetesApiError) as exc:
        problem = problem_of(exc)
        set_problem(body, state, key, problem)
        metrics.RECONCILES.labels(handler, "retry").inc()
        raise kopf.TemporaryError(problem.message, delay=retry_delay(retry)) from exc
    set_problem(body, state, key, None)
    metrics.RECONCILES.labels(handler, "success").inc()


@contextlib.contextmanager
def observing(body: kopf.Body, state: ObjectState, key: str) -> Iterator[None]:
    """The autoscaler's failure policy, within one poll: an error becomes problem ``key``
    and the poll goes on without the value; success clears the problem. The poll never
    raises for these (its next round is the retry)."""
    try:
        yield
    except (TaskServiceError, KubernetesApiError) as exc:
        set_problem(body, state, key, problem_of(exc))
        return
    set_problem(body, state, key, None)


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
