"""Task 4 robustness: survival of repeats and close-contact frames per (temperature, pressure).

The paper: "simulation survival, where a green marker denotes that all three repeats completed 100 ps, pale
green indicates partial survival ..., and white denotes complete failure (all three repeats failed); and (ii)
the number of close-contact events, defined as the number of frames (sampled at 1 ps intervals) containing
interatomic separations <= 1 Å", and "A dash ("—") indicates that all three repeats failed before 1 ps, i.e.,
no frames were available for evaluation."

Per run: its outcome (below), its time to failure (ps), and for every frame sampled *along the MD* whether some
pair is at or below the contact threshold. The frame the dump holds at step 0 (the relaxed starting structure,
t = 0) is not an MD sample and is not counted: a full paper run has 100 frames (1, 2, ..., 100 ps), not 101.

Outcome of a run:
  ``survived``    state ``done``: it reached its full length;
  ``failed``      it ended for a reason of the potential (``lost_atoms``, ``non_finite``, ``lammps_error``, a
                  LAMMPS crash such as a segmentation fault);
  ``incomplete``  it ended for a reason that is not the potential's: the wall-time limit (``wall_time``), an
                  I/O error (``io_error``), or LAMMPS killed from outside (SIGKILL/SIGTERM/SIGINT/SIGHUP, e.g. by
                  the launcher or the batch system); it says nothing about survival;
  ``unfinished``  still pending or running.

Per condition, ``survival`` is ``all`` (every repeat survived), ``none`` (every repeat failed), ``some`` (at
least one survived and one failed, whatever the others did), else ``incomplete`` (a repeat is incomplete or
unfinished, so the answer is not known yet). The close-contact fraction counts MD frames with a contact over all
MD frames of all repeats, and is a dash (no value) when no repeat wrote a single MD frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from analysis.contacts import FrameContacts

DASH = "—"
# Failure reasons (status.json) that are not the potential's doing: the run is incomplete, not failed.
NOT_THE_POTENTIALS_REASONS = ("wall_time", "io_error")
# A LAMMPS process killed by one of these signals was stopped from outside (launcher, batch system, user).
EXTERNAL_SIGNALS = ("SIGKILL", "SIGTERM", "SIGINT", "SIGHUP")
RELAX_FILE = "relax.json"


def run_outcome(state: str, reason: str | None, message: str | None) -> str:
    """``survived``, ``failed``, ``incomplete`` or ``unfinished`` of one run from its status.json fields."""
    if state == "done":
        return "survived"
    if state != "failed":
        return "unfinished"
    if reason in NOT_THE_POTENTIALS_REASONS:
        return "incomplete"
    if reason == "crashed" and message and any(f"signal {name}" in message for name in EXTERNAL_SIGNALS):
        return "incomplete"
    return "failed"


@dataclass
class FrameCounts:
    """MD frames (after t = 0) of one trajectory: how many, how many with a contact, the smallest distance (Å)
    among them, and the time (ps) of the last one."""

    n_frames: int = 0
    n_contact_frames: int = 0
    min_distance_A: float = float("inf")
    last_time_ps: float | None = None


def md_frame_counts(frames: Iterable[FrameContacts]) -> FrameCounts:
    """Count the frames sampled along the MD: every frame except the one at step 0 (the relaxed start)."""
    counts = FrameCounts()
    for frame in frames:
        if frame.timestep == 0:
            continue
        counts.n_frames += 1
        counts.n_contact_frames += frame.contact
        counts.min_distance_A = min(counts.min_distance_A, frame.min_distance_A)
        counts.last_time_ps = frame.time_ps
    return counts


@dataclass
class RelaxRecord:
    """The fixed-cell relaxation before the MD, as the template writes it to relax.json: iterations done (the
    step count after ``minimize``), the iteration limit, the final largest force component and force norm
    (eV/Å). ``converged``: the largest force component on any atom is at most the force tolerance (the
    per-atom reading of the tolerance; LAMMPS itself stops on the norm of the whole force vector, which for
    a large cell is far stricter, so a run may reach its iteration limit and still be converged here)."""

    iterations: int
    max_iterations: int
    max_force_eV_per_A: float
    force_norm_eV_per_A: float
    force_tolerance_eV_per_A: float

    @property
    def converged(self) -> bool:
        return self.max_force_eV_per_A <= self.force_tolerance_eV_per_A


def read_relax_record(run_dir: Path) -> RelaxRecord | None:
    """relax.json of a run folder, or None when the run has none (no relaxation, or it never ended)."""
    path = Path(run_dir) / RELAX_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return RelaxRecord(iterations=int(data["iterations"]), max_iterations=int(data["max_iterations"]),
                           max_force_eV_per_A=float(data["max_force_eV_per_A"]),
                           force_norm_eV_per_A=float(data["force_norm_eV_per_A"]),
                           force_tolerance_eV_per_A=float(data["force_tolerance_eV_per_A"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass
class RobustnessRun:
    """One repeat: ``state`` from status.json, times in ps, MD frame counts (t = 0 excluded)."""

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
    relax: RelaxRecord | None = None

    @property
    def outcome(self) -> str:
        return run_outcome(self.state, self.reason, self.message)

    @property
    def survived(self) -> bool:
        return self.outcome == "survived"

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    @property
    def incomplete(self) -> bool:
        return self.outcome == "incomplete"


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
    def n_incomplete(self) -> int:
        return sum(r.incomplete for r in self.runs)

    @property
    def n_unfinished(self) -> int:
        return sum(r.outcome == "unfinished" for r in self.runs)

    @property
    def survival(self) -> str:
        if self.n_survived and self.n_failed:
            return "some"
        if self.n_survived == self.n_repeats:
            return "all"
        if self.n_failed == self.n_repeats:
            return "none"
        return "incomplete"

    @property
    def n_frames(self) -> int:
        return sum(r.n_frames for r in self.runs)

    @property
    def n_contact_frames(self) -> int:
        return sum(r.n_contact_frames for r in self.runs)

    @property
    def close_contact_fraction(self) -> float | None:
        """MD frames with a contact / all MD frames; None when there is no MD frame at all."""
        return None if self.n_frames == 0 else self.n_contact_frames / self.n_frames

    @property
    def close_contact_label(self) -> str:
        fraction = self.close_contact_fraction
        return DASH if fraction is None else f"{100.0 * fraction:.0f}%"

    @property
    def times_to_failure_ps(self) -> list[float]:
        return [r.time_reached_ps if r.time_reached_ps is not None else float("nan")
                for r in self.runs if r.failed]

    @property
    def n_relax_converged(self) -> int:
        return sum(r.relax is not None and r.relax.converged for r in self.runs)


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
