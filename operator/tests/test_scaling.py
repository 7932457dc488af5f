"""The scaling formula and the stabilization window, as pure functions."""

from __future__ import annotations

import pytest

from taskplane_operator.model import ScalingSpec
from taskplane_operator.scaling import RecommendationWindow, ScaleDecision, decide, recommend

SPEC = ScalingSpec(
    min_replicas=0,
    max_replicas=20,
    target_tasks_per_replica=10,
    scale_down_stabilization_seconds=60,
)


@pytest.mark.parametrize(
    ("available", "in_flight", "expected"),
    [
        (0, 0, 0),  # empty queue: zero workers
        (1, 0, 1),  # the first task scales from zero
        (0, 1, 1),  # in-flight work keeps a worker
        (10, 0, 1),  # exact multiple: no extra replica
        (11, 0, 2),  # one over: one more
        (15, 5, 2),  # available and in flight add up
        (20, 1, 3),
        (199, 0, 20),
        (200, 0, 20),  # exactly max
        (10_000, 0, 20),  # clamped to max
        (-5, 0, 0),  # a negative count from a confused API never scales
    ],
)
def test_recommend_formula_edges(available: int, in_flight: int, expected: int) -> None:
    assert recommend(available, in_flight, SPEC) == expected


def test_recommend_min_floor_applies_to_an_empty_queue() -> None:
    spec = SPEC.model_copy(update={"min_replicas": 2})
    assert recommend(0, 0, spec) == 2
    assert recommend(25, 0, spec) == 3


def test_target_one_means_one_replica_per_task() -> None:
    spec = SPEC.model_copy(update={"target_tasks_per_replica": 1, "max_replicas": 5})
    assert [recommend(n, 0, spec) for n in range(7)] == [0, 1, 2, 3, 4, 5, 5]


def run(window: RecommendationWindow, now: float, available: int, current: int) -> ScaleDecision:
    return decide(
        spec_scaling=SPEC,
        paused=False,
        override=None,
        available=available,
        in_flight=0,
        current=current,
        window=window,
        now=now,
    )


def test_scale_up_is_immediate() -> None:
    window = RecommendationWindow()
    first = run(window, 0, 5, current=0)
    assert (first.desired, first.direction, first.reason) == (1, "up", "QueueDepth")
    second = run(window, 5, 95, current=1)
    assert (second.desired, second.direction) == (10, "up")


def test_scale_down_waits_for_the_full_window() -> None:
    window = RecommendationWindow()
    assert run(window, 0, 100, current=0).desired == 10
    # Depth drops at t=5 and stays low; polls every 5 s.
    for t in range(5, 65, 5):
        decision = run(window, t, 10, current=10)
        assert decision.desired == 10, t
        assert decision.recommendation == 1
        assert decision.reason == "ScaleDownStabilizing"
        assert decision.held_until == 65
    decision = run(window, 65, 10, current=10)
    assert (decision.desired, decision.direction, decision.reason) == (1, "down", "QueueDepth")


def test_a_spike_inside_the_window_restarts_it() -> None:
    window = RecommendationWindow()
    run(window, 0, 100, current=0)  # 10
    run(window, 10, 10, current=10)  # low
    run(window, 30, 50, current=10)  # spike to 5, still below 10
    assert run(window, 70, 10, current=10).desired == 5  # 10 has aged out, 5 has not
    assert run(window, 89, 10, current=5).desired == 5
    assert run(window, 90, 10, current=5).desired == 5  # 5 was in force until t=70
    assert run(window, 130, 10, current=5).desired == 1


def test_scale_down_steps_to_the_highest_recent_recommendation() -> None:
    window = RecommendationWindow()
    run(window, 0, 100, current=0)  # 10
    run(window, 10, 60, current=10)  # 6
    run(window, 20, 10, current=10)  # 1
    assert run(window, 70, 10, current=10).desired == 6
    assert run(window, 80, 10, current=6).desired == 1


def test_zero_window_scales_down_at_once() -> None:
    spec = SPEC.model_copy(update={"scale_down_stabilization_seconds": 0})
    window = RecommendationWindow()
    kwargs = {"paused": False, "override": None, "in_flight": 0, "window": window}
    decide(spec_scaling=spec, available=100, current=0, now=0, **kwargs)
    decision = decide(spec_scaling=spec, available=0, current=10, now=1, **kwargs)
    assert (decision.desired, decision.direction) == (0, "down")


def test_seeded_window_blocks_scale_down_after_a_restart() -> None:
    window = RecommendationWindow()
    window.seed(1000, 7)  # the operator restarts while 7 workers run
    assert run(window, 1000, 0, current=7).desired == 7
    assert run(window, 1059, 0, current=7).desired == 7
    assert run(window, 1060, 0, current=7).desired == 0


def test_paused_goes_to_zero_at_once_and_forgets_history() -> None:
    window = RecommendationWindow()
    run(window, 0, 100, current=0)
    paused = decide(
        spec_scaling=SPEC,
        paused=True,
        override=None,
        available=100,
        in_flight=0,
        current=10,
        window=window,
        now=1,
    )
    assert (paused.desired, paused.direction, paused.reason) == (0, "down", "Paused")
    # Unpaused with a small backlog: the old burst no longer holds replicas up.
    assert run(window, 2, 10, current=0).desired == 1


def test_manual_override_is_clamped_to_bounds() -> None:
    spec = SPEC.model_copy(update={"min_replicas": 1, "max_replicas": 4})
    kwargs = {"paused": False, "available": 0, "in_flight": 0, "current": 2, "now": 0}
    pinned = decide(spec_scaling=spec, override=3, window=RecommendationWindow(), **kwargs)
    assert (pinned.desired, pinned.reason) == (3, "ManualOverride")
    assert (
        decide(spec_scaling=spec, override=9, window=RecommendationWindow(), **kwargs).desired == 4
    )
    assert (
        decide(spec_scaling=spec, override=0, window=RecommendationWindow(), **kwargs).desired == 1
    )


def test_no_change_has_no_direction() -> None:
    assert run(RecommendationWindow(), 0, 30, current=3).direction == "none"
