"""Resume and checkpoint files of a run folder: where a run got to (progress.dat), its LAMMPS restart files, and
preparing an attempt: continue from the newest complete restart file, or clear old outputs for a fresh start."""

from __future__ import annotations

import os
from pathlib import Path

# Outputs of an attempt; a fresh (non-resumed) attempt starts without them.
ATTEMPT_OUTPUTS = ("traj.lammpstrj", "progress.dat", "finished.json", "result.json", "relaxed.lmp", "forces.lammpstrj",
                   "energies.dat", "log.lammps", "screen.out", "restart.latest")
LATEST_RESTART = "restart.latest"
KEEP_RESTARTS = 2


def last_progress(run_dir: Path) -> tuple[int, float]:
    """(step, simulated time in ps) of the last line of progress.dat, (0, 0.0) if none."""
    path = run_dir / "progress.dat"
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 4096))
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return 0, 0.0
    for line in reversed(lines):
        parts = line.split()
        if len(parts) >= 2:
            try:
                return int(parts[0]), float(parts[1])
            except ValueError:
                continue
    return 0, 0.0


def restart_files(run_dir: Path) -> list[tuple[int, Path]]:
    """The run's LAMMPS restart files ``restart.STEP.bin``, as (step, path), oldest first."""
    found = []
    for path in run_dir.glob("restart.*.bin"):
        middle = path.name[len("restart."):-len(".bin")]
        if middle.isdigit():
            found.append((int(middle), path))
    return sorted(found)


def complete_restart_files(run_dir: Path) -> list[tuple[int, Path]]:
    """The restart files a resume may use, oldest first: those whose step progress.dat has moved past (a file at
    or after the last progress line may be half-written, or its segment never reported)."""
    progress_step, _ = last_progress(run_dir)
    return [(step, path) for step, path in restart_files(run_dir) if step < progress_step]


def truncate_dump(path: Path, first_bad_step: int) -> None:
    """Cut a text dump before the first frame whose timestep is >= ``first_bad_step``."""
    if not path.is_file():
        return
    offset = None
    with path.open("rb") as handle:
        while True:
            position = handle.tell()
            line = handle.readline()
            if not line:
                break
            if line.startswith(b"ITEM: TIMESTEP"):
                step_line = handle.readline()
                try:
                    step = int(step_line.split()[0])
                except (ValueError, IndexError):
                    offset = position  # a damaged frame: cut here
                    break
                if step >= first_bad_step:
                    offset = position
                    break
    if offset is not None:
        with path.open("r+b") as handle:
            handle.truncate(offset)


def truncate_progress(path: Path, restart_step: int) -> None:
    """Cut progress.dat back to what it held when the segment ending at ``restart_step`` finished: the resumed
    segment writes its header line and the line of ``restart_step`` again, as an uninterrupted run does."""
    if not path.is_file():
        return
    kept: list[str] = []
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith("#"):
            try:
                if int(line.split()[0]) > restart_step:
                    break
            except (ValueError, IndexError):
                break
        kept.append(line)
    while kept and kept[-1].startswith("#"):
        kept.pop()
    if len(kept) >= 2 and kept[-2].startswith("#") and kept[-1].split()[0] == str(restart_step):
        del kept[-2:]   # the start of the segment that was interrupted
    path.write_text("".join(f"{line}\n" for line in kept))


def prepare_attempt(run_dir: Path) -> int | None:
    """Set up a resume from the newest complete restart file (returns its step), or clear old outputs for a
    fresh start (returns None). A restart file counts as complete once progress.dat has moved past its step."""
    latest = run_dir / LATEST_RESTART
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    complete = complete_restart_files(run_dir)
    if complete:
        step, path = complete[-1]
        latest.symlink_to(path.name)
        # the frame at the restart step was written by the segment that ended there; the resumed segment
        # starts after it (the `dump_modify ... delay` of the checkpoint loop in the MD templates)
        truncate_dump(run_dir / "traj.lammpstrj", step + 1)
        truncate_progress(run_dir / "progress.dat", step)
        (run_dir / "finished.json").unlink(missing_ok=True)
        return step
    for name in ATTEMPT_OUTPUTS:
        target = run_dir / name
        if target.is_symlink() or target.exists():
            target.unlink()
    for _, path in restart_files(run_dir):
        path.unlink()
    return None


def prune_restarts(run_dir: Path, keep: int = KEEP_RESTARTS) -> None:
    """Delete all but the newest ``keep`` restart files, never the one a resume is reading."""
    files = restart_files(run_dir)
    latest = run_dir / LATEST_RESTART
    in_use = os.readlink(latest) if latest.is_symlink() else None
    for _, path in files[:-keep]:
        if path.name != in_use:
            path.unlink(missing_ok=True)


def remove_restarts(run_dir: Path) -> None:
    """A run that is done needs no restart files."""
    for _, path in restart_files(run_dir):
        path.unlink(missing_ok=True)
    latest = run_dir / LATEST_RESTART
    if latest.is_symlink():
        latest.unlink()
