"""Replica decisions from queue depth: the formula and the scale-down stabilization window.

Pure code: no clock, no I/O. Callers pass ``now`` (monotonic seconds) in, so the window
logic is tested without sleeping.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from taskplane_operator.model import ScalingSpec

Direction = Literal["up", "down", "none"]


def recommend(available: int, in_flight: int, spec: ScalingSpec) -> int:
    """desired = ceil((available + in_flight) / targetTasksPerReplica), clamped to [min, max].

    Any positive depth yields at least one replica, so the first task scales from zero.
    """
    depth = max(available, 0) + max(in_flight, 0)
    raw = math.ceil(depth / spec.target_tasks_per_replica)
    return clamp(raw, spec)


def clamp(replicas: int, spec: ScalingSpec) -> int:
    """Bounds always win, also over a manual spec.replicas or the stabilized value."""
    return max(spec.min_replicas, min(spec.max_replicas, replicas))


@dataclass
class RecommendationWindow:
    """Recent recommendations, the way the HPA keeps them for its downscale window.

    The stabilized value is the highest recommendation seen within the window: a
    higher recommendation wins at once (scale up immediately), a lower one only once
    every recommendation in the window is that low (it has held for the full window).
    """

    samples: deque[tuple[float, int]] = field(default_factory=deque)

    def stabilize(self, now: float, recommendation: int, window_s: float) -> int:
        """Record ``recommendation`` at ``now`` and return the stabilized replica count."""
        self.samples.append((now, recommendation))
        # Keep one sample at or just before the window start: it still "holds" until then.
        while len(self.samples) > 1 and self.samples[1][0] <= now - window_s:
            self.samples.popleft()
        if window_s <= 0:
            self.samples = deque([(now, recommendation)])
            return recommendation
        return max(value for _, value in self.samples)

    def held_until(self, window_s: float, target: int) -> float | None:
        """When a lower ``target`` takes effect if it keeps holding, else None.

        The last higher sample stays in force until the next sample arrives, so the
        lower value starts counting from that next sample.
        """
        samples = list(self.samples)
        higher = [i for i, (_, value) in enumerate(samples) if value > target]
        last_higher = higher[-1] if higher else None
        if last_higher is None or last_higher + 1 >= len(samples):
            return None
        return samples[last_higher + 1][0] + window_s

    def seed(self, now: float, replicas: int) -> None:
        """Start from the running replica count (after an operator restart).

        History is in memory only; seeding with what runs now means a restart can
        never cause a scale-down before a full window of lower recommendations.
        """
        self.samples = deque([(now, replicas)])

    def reset(self) -> None:
        """Forget history: after a pause the old backlog no longer says anything."""
        self.samples.clear()


@dataclass(frozen=True)
class ScaleDecision:
    """What the autoscaler wants and why, for the Deployment, the status and the Events."""

    desired: int
    recommendation: int
    direction: Direction
    reason: str
    held_until: float | None = None


def decide(
    *,
    spec_scaling: ScalingSpec,
    paused: bool,
    override: int | None,
    available: int,
    in_flight: int,
    current: int,
    window: RecommendationWindow,
    now: float,
) -> ScaleDecision:
    """Combine pause, manual override, formula and stabilization into one decision."""
    if paused:
        window.reset()
        return _decision(0, 0, current, "Paused")
    if override is not None:
        window.reset()
        desired = clamp(override, spec_scaling)
        return _decision(desired, desired, current, "ManualOverride")
    recommendation = recommend(available, in_flight, spec_scaling)
    stabilized = clamp(
        window.stabilize(now, recommendation, spec_scaling.scale_down_stabilization_seconds),
        spec_scaling,
    )
    held = None
    if recommendation < stabilized:
        held = window.held_until(spec_scaling.scale_down_stabilization_seconds, recommendation)
    reason = "QueueDepth" if held is None else "ScaleDownStabilizing"
    return _decision(stabilized, recommendation, current, reason, held)


def _decision(
    desired: int, recommendation: int, current: int, reason: str, held: float | None = None
) -> ScaleDecision:
    direction: Direction = "up" if desired > current else "down" if desired < current else "none"
    return ScaleDecision(desired, recommendation, direction, reason, held)
