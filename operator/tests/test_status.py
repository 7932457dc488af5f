"""Status and conditions from observations, as pure functions."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from taskplane_operator.client import QueueStats
from taskplane_operator.scaling import ScaleDecision
from taskplane_operator.status import Observation, Problem, build_status, condition, timestamp
from taskplane_testing.task_service import empty_stats

T0 = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)
T1 = T0 + datetime.timedelta(minutes=5)

BASE = Observation(
    generation=3,
    queue="shop.orders",
    paused=False,
    stats=QueueStats.model_validate(
        {**empty_stats(), "available": 12, "in_flight": 3, "dead": 1, "oldest_available_age_s": 4.2}
    ),
    decision=ScaleDecision(desired=2, recommendation=2, direction="none", reason="QueueDepth"),
    deployment_replicas=2,
    pods=2,
    ready_pods=2,
    selector="app.kubernetes.io/instance=orders,app.kubernetes.io/name=taskplane-worker",
    last_scale_time="2026-03-01T11:59:00Z",
    problems=[],
)


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_timestamp_is_rfc3339_utc_seconds() -> None:
    local = datetime.datetime(
        2026, 3, 1, 13, 0, 0, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=1))
    )
    assert timestamp(local) == "2026-03-01T12:00:00Z"


def test_healthy_status_has_counts_and_four_conditions() -> None:
    status = build_status(BASE, {}, T0)
    assert status["available"] == 12
    assert status["inFlight"] == 3
    assert status["dead"] == 1
    assert status["oldestAvailableAgeSeconds"] == 4.2
    assert (status["replicas"], status["readyReplicas"], status["desiredReplicas"]) == (2, 2, 2)
    assert status["observedGeneration"] == 3
    assert status["queueName"] == "shop.orders"
    assert status["lastScaleTime"] == "2026-03-01T11:59:00Z"
    found = conditions(status)
    assert [c["type"] for c in status["conditions"]] == ["Ready", "Scaling", "Paused", "Degraded"]
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("True", "WorkersReady")
    assert (found["Scaling"]["status"], found["Scaling"]["reason"]) == ("False", "Stable")
    assert (found["Paused"]["status"], found["Degraded"]["status"]) == ("False", "False")
    for item in found.values():
        assert item["observedGeneration"] == 3
        assert item["lastTransitionTime"] == "2026-03-01T12:00:00Z"


def test_last_transition_time_moves_only_when_status_changes() -> None:
    first = build_status(BASE, {}, T0)
    # Same statuses, new message (more ready pods than before): times stay.
    again = build_status(dataclasses.replace(BASE, generation=4), first, T1)
    assert [c["lastTransitionTime"] for c in again["conditions"]] == [
        c["lastTransitionTime"] for c in first["conditions"]
    ]
    assert all(c["observedGeneration"] == 4 for c in again["conditions"])
    # Degraded flips: its time moves, the others keep theirs.
    broken = dataclasses.replace(
        BASE, stats=None, problems=[Problem("TaskServiceUnreachable", "connect refused")]
    )
    degraded = conditions(build_status(broken, again, T1))
    assert degraded["Degraded"]["lastTransitionTime"] == "2026-03-01T12:05:00Z"
    assert degraded["Ready"]["lastTransitionTime"] == "2026-03-01T12:05:00Z"  # True -> False
    assert degraded["Paused"]["lastTransitionTime"] == "2026-03-01T12:00:00Z"
    assert degraded["Scaling"]["lastTransitionTime"] == "2026-03-01T12:00:00Z"


def test_reason_change_alone_keeps_the_transition_time() -> None:
    previous = [{"type": "Ready", "status": "False", "reason": "A", "lastTransitionTime": "x"}]
    item = condition(previous, "Ready", "False", "B", "other", 1, T1)
    assert (item["reason"], item["lastTransitionTime"]) == ("B", "x")


def test_problems_make_degraded_and_not_ready_and_keep_last_counts() -> None:
    previous = build_status(BASE, {}, T0)
    obs = dataclasses.replace(
        BASE,
        stats=None,
        decision=None,
        problems=[
            Problem("TaskServiceUnavailable", "HTTP 503"),
            Problem("InvalidHandler", "bad handler"),
        ],
    )
    status = build_status(obs, previous, T1)
    found = conditions(status)
    assert (found["Degraded"]["status"], found["Degraded"]["reason"]) == (
        "True",
        "TaskServiceUnavailable",
    )
    assert "InvalidHandler: bad handler" in found["Degraded"]["message"]
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == (
        "False",
        "TaskServiceUnavailable",
    )
    assert status["available"] == 12  # last known, not a fake zero
    assert status["desiredReplicas"] == 2  # from the Deployment when no decision was made


def test_idle_and_paused_at_zero_are_ready() -> None:
    idle = dataclasses.replace(
        BASE,
        stats=QueueStats.model_validate(empty_stats()),
        decision=ScaleDecision(0, 0, "none", "QueueDepth"),
        pods=0,
        ready_pods=0,
    )
    found = conditions(build_status(idle, {}, T0))
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("True", "Idle")
    assert found["Ready"]["message"] == "scaled to zero: no tasks available or in flight"
    paused = dataclasses.replace(idle, paused=True, decision=ScaleDecision(0, 0, "none", "Paused"))
    found = conditions(build_status(paused, {}, T0))
    assert (found["Paused"]["status"], found["Paused"]["reason"]) == ("True", "PausedBySpec")
    assert found["Ready"]["message"] == "scaled to zero: paused"


def test_scaling_reports_progress_and_held_scale_down() -> None:
    up = dataclasses.replace(BASE, decision=ScaleDecision(5, 5, "up", "QueueDepth"), ready_pods=2)
    found = conditions(build_status(up, {}, T0))
    assert (found["Scaling"]["status"], found["Scaling"]["reason"]) == ("True", "ScalingUp")
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", "WorkersNotReady")
    assert found["Ready"]["message"] == "2/5 workers ready"

    draining = dataclasses.replace(
        BASE, decision=ScaleDecision(1, 1, "down", "QueueDepth"), pods=3, ready_pods=3
    )
    found = conditions(build_status(draining, {}, T0))
    assert (found["Scaling"]["status"], found["Scaling"]["reason"]) == ("True", "ScalingDown")
    assert "finishing in-flight tasks" in found["Scaling"]["message"]

    held = dataclasses.replace(
        BASE, decision=ScaleDecision(2, 1, "none", "ScaleDownStabilizing", held_until=99.0)
    )
    found = conditions(build_status(held, {}, T0))
    assert (found["Scaling"]["status"], found["Scaling"]["reason"]) == (
        "False",
        "ScaleDownStabilizing",
    )
    assert "recommends 1 replica(s), held at 2" in found["Scaling"]["message"]


def test_unknown_before_the_deployment_exists() -> None:
    pending = dataclasses.replace(
        BASE, decision=None, deployment_replicas=None, pods=0, ready_pods=0
    )
    status = build_status(pending, {}, T0)
    found = conditions(status)
    assert found["Ready"]["status"] == "Unknown"
    assert found["Scaling"]["status"] == "Unknown"
    assert "desiredReplicas" not in status
