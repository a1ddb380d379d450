"""Task 4 robustness: survival of repeats and close-contact frames per (temperature, pressure).

Per run: whether it reached its full length, its time to failure (ps), and for every available frame
(1 ps apart in the paper) whether some pair is at or below the contact threshold. Per condition:
``survival`` is ``all`` (every repeat reached the full length), ``some``, ``none``, or ``incomplete`` (a
repeat is still pending or running); the close-contact fraction counts frames with a contact over all
frames available from all repeats, and is a dash (no value) when no repeat wrote a single frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

DASH = "-"


@dataclass
class RobustnessRun:
    """One repeat: ``state`` from status.json, times in ps, frame counts."""

    run_id: str
    potential: str
    temperature_K: float
    pressure_Pa: float
    repeat: int
    state: str
    reason: str | None
    duration_ps: float
    time_reached_ps: float | None
    n_frames: int
    n_contact_frames: int
    min_distance_A: float
    message: str | None = None

    @property
    def survived(self) -> bool:
        return self.state == "done"

    @property
    def failed(self) -> bool:
        return self.state == "failed"


@dataclass
class RobustnessCondition:
    potential: str
    temperature_K: float
    pressure_Pa: float
    runs: list[RobustnessRun] = field(default_factory=list)

    @property
    def n_repeats(self) -> int:
        return len(self.runs)

    @property
    def n_survived(self) -> int:
        return sum(r.survived for r in self.runs)

    @property
    def n_failed(self) -> int:
        return sum(r.failed for r in self.runs)

    @property
    def n_unfinished(self) -> int:
        return self.n_repeats - self.n_survived - self.n_failed

    @property
    def survival(self) -> str:
        if self.n_unfinished:
            return "incomplete"
        if self.n_survived == self.n_repeats:
            return "all"
        if self.n_survived == 0:
            return "none"
        return "some"

    @property
    def n_frames(self) -> int:
        return sum(r.n_frames for r in self.runs)

    @property
    def n_contact_frames(self) -> int:
        return sum(r.n_contact_frames for r in self.runs)

    @property
    def close_contact_fraction(self) -> float | None:
        """Frames with a contact / all available frames; None when there is no frame at all."""
        return None if self.n_frames == 0 else self.n_contact_frames / self.n_frames

    @property
    def close_contact_label(self) -> str:
        fraction = self.close_contact_fraction
        return DASH if fraction is None else f"{100.0 * fraction:.0f}%"

    @property
    def times_to_failure_ps(self) -> list[float]:
        return [r.time_reached_ps if r.time_reached_ps is not None else float("nan")
                for r in self.runs if r.failed]


def group_conditions(runs: Sequence[RobustnessRun]) -> list[RobustnessCondition]:
    """Group runs by (potential, temperature, pressure), sorted by those keys."""
    groups: dict[tuple[str, float, float], RobustnessCondition] = {}
    for run in runs:
        key = (run.potential, run.temperature_K, run.pressure_Pa)
        if key not in groups:
            groups[key] = RobustnessCondition(*key)
        groups[key].runs.append(run)
    for condition in groups.values():
        condition.runs.sort(key=lambda r: r.repeat)
    return [groups[k] for k in sorted(groups)]
