"""Executing one run. One rank per run: LAMMPS (or a calculator potential's runner) as a child process, so an
error, a hang or a crash ends that run only; the launcher watches its wall time, heartbeat and restart files.
K ranks per run: one LAMMPS in-process over the rank group's sub-communicator.

A child starts in its own process group through harness/die_with_parent.py (no ``preexec_fn``: the launcher runs
heartbeat and progress threads). It dies with the launcher, kill -9 included; the launcher kills the child's whole
group (LAMMPS and whatever it started, e.g. through `shell`) when it stops watching it, on every exit path."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from harness.lammps_env import LammpsBuild, child_environment
from harness.outcomes import Outcome, classify, error_outcome
from harness.resume import last_progress, prune_restarts
from harness.runstate import update_status

POLL_S = 0.5
HEARTBEAT_S = 5.0    # how often the launcher copies the run's progress into status.json
DIE_WITH_PARENT = Path(__file__).with_name("die_with_parent.py")


def _check_executable(program: str, cwd: Path, env: dict[str, str]) -> None:
    """Raise FileNotFoundError, as Popen would, when ``program`` cannot be found: the wrapper would only report
    it from the child."""
    found = (cwd / program).is_file() if os.sep in program else shutil.which(program, path=env.get("PATH", os.defpath))
    if not found:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)


def start_child(command: list[str], cwd: Path, output: IO[bytes], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start ``command`` in ``cwd``, stdout and stderr to ``output``, in a process group of its own, dying with
    this launcher. The calling thread must be the one that waits for it (harness/die_with_parent.py)."""
    _check_executable(command[0], cwd, env)
    return subprocess.Popen([sys.executable, "-I", "-S", str(DIE_WITH_PARENT), str(os.getpid()), *command], cwd=cwd,
                            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            process_group=0)


def kill_group(process: subprocess.Popen[bytes]) -> int:
    """SIGKILL the child's process group (the child and what it started); returns the child's exit status."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass   # the child and everything it started are gone already
    return process.wait()


def _watch(process: subprocess.Popen[bytes], run_dir: Path, kill_after_s: float) -> tuple[int, bool]:
    """Wait for the child, copying its progress into status.json and pruning old restart files; kill it after
    ``kill_after_s``. Returns (exit status, killed for time)."""
    started = last_beat = time.monotonic()
    # A blocking wait in a thread ends the moment LAMMPS exits (Popen.wait(timeout) polls, up to 50 ms late).
    exited = threading.Event()
    threading.Thread(target=lambda: (process.wait(), exited.set()), daemon=True).start()
    while not exited.wait(POLL_S):
        now = time.monotonic()
        if now - started > kill_after_s:
            return kill_group(process), True
        if now - last_beat > HEARTBEAT_S:
            last_beat = now
            step, time_ps = last_progress(run_dir)
            update_status(run_dir, step=step, time_ps=time_ps)
            prune_restarts(run_dir)
    return process.wait(), False


def run_child(run_dir: Path, run: dict[str, Any], build: LammpsBuild, wall_time_s: float,
              accel_args: list[str], env_extra: dict[str, str], kill_grace_s: float = 30.0,
              command: list[str] | None = None) -> Outcome:
    """Run one run as a child process. ``command``: the child to start instead of `lmp` (a calculator
    potential's `python runner.py`)."""
    command = command or [build.executable, *accel_args, "-in", "in.lammps", "-log", "log.lammps"]
    env = child_environment(build.library_dirs, env_extra)
    with (run_dir / "screen.out").open("ab") as screen:
        process = start_child(command, run_dir, screen, env)
        try:
            update_status(run_dir, pid=process.pid)
            returncode, killed_for_time = _watch(process, run_dir, wall_time_s + kill_grace_s)
        finally:
            kill_group(process)
    return classify(run_dir, run, returncode, killed_for_time, wall_time_s)


def run_in_process(run_dir: Path, run: dict[str, Any], comm: Any, accel_args: list[str]) -> Outcome:
    """Drive one LAMMPS over ``comm`` (all ranks of the group call this). Errors that LAMMPS reports become a
    failed outcome; a crash or a hang inside LAMMPS takes the whole group down (use one rank per run to contain
    those)."""
    from lammps import lammps  # noqa: PLC0415 (the MPI library is loaded by mpi4py already)
    cwd = os.getcwd()
    error: str | None = None
    os.chdir(run_dir)
    try:
        instance = lammps(cmdargs=[*accel_args, "-log", "log.lammps", "-screen", "none"], comm=comm)
        try:
            instance.file("in.lammps")
        except Exception as exc:  # LAMMPS errors arrive as Python exceptions
            error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        finally:
            instance.close()
    finally:
        os.chdir(cwd)
    if comm.Get_rank() != 0:
        return Outcome("failed", None, None, 0, 0.0)
    if error is None:
        return classify(run_dir, run, 0, False, float(run.get("wall_time_s", 0)))
    return error_outcome(run_dir, error)
