"""How a run ended: the one mapping from what LAMMPS (or a calculator runner) left behind (its result files, its
``ERROR`` line or Python traceback, its exit status or signal, a kill at the wall-time limit) to a state and one
of the documented reasons (harness/rundir.py REASONS; the README's table of reasons)."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.resume import last_progress


@dataclass
class Outcome:
    state: str
    reason: str | None
    message: str | None
    step: int
    time_ps: float


CALCULATOR_ERRORS = ("ERROR: calculator", "ERROR: Python:", "ERROR: sha256", "ERROR: model file")
# An error message's reason: the first entry whose test accepts it; lammps_error when none does.
ERROR_REASONS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("non_finite", lambda error: "non-finite" in error),          # the calculator runner's finite-value guard
    ("calculator_error", lambda error: error.startswith(CALCULATOR_ERRORS)),
    ("lost_atoms", lambda error: "Lost atoms" in error),
    ("non_finite", lambda error: "Fix halt condition" in error or "Non-numeric" in error
     or "nan" in error.lower().split()),
)


def reason_for_error(error: str) -> str:
    """The failure reason of a LAMMPS error message (or of a calculator runner's: harness/calculator_runner.py)."""
    return next((reason for reason, matches in ERROR_REASONS if matches(error)), "lammps_error")


def error_line(run_dir: Path) -> str | None:
    """The first ``ERROR`` line LAMMPS wrote to screen.out or log.lammps."""
    for name in ("screen.out", "log.lammps"):
        path = run_dir / name
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("ERROR"):
                return line.strip()
    return None


def python_error(run_dir: Path) -> str | None:
    """The last line of a Python traceback in screen.out (a calculator run whose runner died in Python)."""
    path = run_dir / "screen.out"
    lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
    if not any(line.startswith("Traceback (most recent call last)") for line in lines):
        return None
    last = next((line.strip() for line in reversed(lines) if line.strip() and not line.startswith(" ")), "")
    return f"ERROR: Python: {last}"


def finished_step(run_dir: Path) -> int | None:
    """The step in finished.json (written when the MD loop ends, at nsteps or at LAMMPS's timer timeout)."""
    try:
        return int(json.loads((run_dir / "finished.json").read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def completed_outcome(run_dir: Path, run: dict[str, Any]) -> Outcome | None:
    """The outcome of a run whose files show it completed, else None."""
    task = run["task"]
    if task in ("relax", "single_point"):
        return Outcome("done", None, None, 0, 0.0) if (run_dir / "result.json").is_file() else None
    if task == "forces":
        try:
            rows = [l for l in (run_dir / "energies.dat").read_text().splitlines() if l.strip() and not l.startswith("#")]
        except OSError:
            return None
        return Outcome("done", None, None, len(rows), 0.0) if len(rows) >= run["nsteps"] else None
    step = finished_step(run_dir)
    if step is not None and step >= run["nsteps"]:
        _, time_ps = last_progress(run_dir)
        return Outcome("done", None, None, step, time_ps)
    return None


def _signal_name(number: int) -> str:
    return signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)


def classify(run_dir: Path, run: dict[str, Any], returncode: int, killed_for_time: bool, wall_time_s: float) -> Outcome:
    """The outcome of a child process that exited with ``returncode`` (negative: killed by that signal)."""
    step, time_ps = last_progress(run_dir)
    if killed_for_time:
        return Outcome("failed", "wall_time", f"killed after exceeding the wall-time limit of {wall_time_s:g} s",
                       step, time_ps)
    done = completed_outcome(run_dir, run)
    if returncode == 0 and done is not None:
        return done
    if returncode < 0:
        return Outcome("failed", "crashed", f"LAMMPS process killed by signal {_signal_name(-returncode)}", step, time_ps)
    error = error_line(run_dir) or python_error(run_dir)
    if returncode == 0 and error is None:
        finished = finished_step(run_dir)
        if finished is not None and finished < run["nsteps"]:
            return Outcome("failed", "wall_time",
                           f"LAMMPS timer timeout ({wall_time_s:g} s) at step {finished} of {run['nsteps']}", step, time_ps)
        return Outcome("failed", "lammps_error", "LAMMPS ended without writing its results", step, time_ps)
    if error is None:
        return Outcome("failed", "crashed", f"LAMMPS exited with status {returncode} and no error message", step, time_ps)
    return Outcome("failed", reason_for_error(error), error, step, time_ps)


def error_outcome(run_dir: Path, error: str) -> Outcome:
    """The outcome of an in-process LAMMPS that raised ``error`` (its message, with or without ``ERROR:``)."""
    step, time_ps = last_progress(run_dir)
    message = error if error.startswith("ERROR") else f"ERROR: {error}"
    return Outcome("failed", reason_for_error(error), message, step, time_ps)
