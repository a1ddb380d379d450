"""harness launch: run every rendered LAMMPS run of a campaign, over MPI ranks, resumably (the farm loop).

Each MPI rank group claims runs through lock files (longest first), so runs are handed out dynamically and
two launchers on one campaign never execute a run twice. A run with one rank per run executes as a child
`lmp` process, so a LAMMPS error, a hang or a crash is recorded on that run and the launcher carries on.
With ``ranks_per_run`` K > 1, each group of K ranks drives one LAMMPS in-process over a sub-communicator.

The parts: preflight (harness/preflight.py), one attempt of a run (attempt.py: resume.py, devices.py,
provenance.py), executing it (executors.py), how it ended (outcomes.py).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from harness.attempt import begin_attempt, completed_before, finish_attempt
from harness.calculator_launch import child_command
from harness.devices import visible_gpus
from harness.errors import HarnessError
from harness.executors import run_child, run_in_process
from harness.lammps_env import LammpsBuild, find_lammps
from harness.launch_options import LaunchOptions
from harness.mpi_world import wait_without_spinning, world
from harness.outcomes import Outcome
from harness.preflight import launch_gate
from harness.resume import last_progress
from harness.rundir import count_states, load_manifest, read_status
from harness.runstate import RunLock, lock_holder, update_status

__all__ = ["LaunchOptions", "launch"]

TAKE_OVER_POLL_S = 1.0


def _say(log: IO[str], line: str) -> None:
    """One progress line in a single write, so lines of several ranks sharing mpirun's stdout never interleave."""
    log.write(line + "\n")
    log.flush()


# ------------------------------------------------------------------------------------------ which runs

def _runnable(campaign_dir: Path, run: dict[str, Any], retry_failed: bool) -> bool:
    state = read_status(campaign_dir / run["dir"]).get("state", "pending")
    return state in ("pending", "running") or (retry_failed and state == "failed")


def _ordered_runs(manifest: dict[str, Any], only: str | None) -> list[dict[str, Any]]:
    runs = [r for r in manifest["runs"] if only is None or only in r["run_id"]]
    return sorted(runs, key=lambda r: -float(r.get("cost", 0)))


def summarize(campaign_dir: Path, manifest: dict[str, Any]) -> dict[str, int]:
    return count_states(read_status(campaign_dir / run["dir"]).get("state", "pending") for run in manifest["runs"])


def _claim(campaign_dir: Path, runs: list[dict[str, Any]], options: LaunchOptions, unwritable: set[str],
           log: IO[str]) -> tuple[dict[str, Any], RunLock] | None:
    """Lock the first runnable run (longest first); None when none is left. With --take-over, wait while
    other launchers hold runs: their locks may become stale."""
    while True:
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
                held_elsewhere = True
                continue
            if _runnable(campaign_dir, run, options.retry_failed):  # re-check under the lock
                return run, candidate
            candidate.release()
        if not (held_elsewhere and options.take_over):
            return None
        time.sleep(TAKE_OVER_POLL_S)


# ------------------------------------------------------------------------------------------ executing a claimed run

def _run_alone(campaign_dir: Path, run: dict[str, Any], manifest: dict[str, Any], build: LammpsBuild,
               options: LaunchOptions, gpus: list[str], group: int) -> Outcome:
    """One rank per run: the run as a child process. Raises OSError where the run folder cannot be written."""
    done = completed_before(campaign_dir / run["dir"], run)
    if done is not None:
        return done
    attempt = begin_attempt(campaign_dir, run, manifest, build, options, gpus, group, 1)
    outcome = run_child(attempt.run_dir, attempt.record, build, attempt.wall_time_s, attempt.accel,
                        attempt.env_extra, options.kill_grace_s, child_command(manifest, run))
    finish_attempt(attempt, outcome)
    return outcome


def _run_in_group(campaign_dir: Path, run: dict[str, Any], manifest: dict[str, Any], build: LammpsBuild,
                  options: LaunchOptions, gpus: list[str], group: int, comm: Any,
                  leader: bool) -> tuple[Outcome | None, OSError | None]:
    """K ranks per run: the leader prepares, all K ranks drive LAMMPS, the leader records. Returns the
    leader's (outcome, error writing the run folder)."""
    run_dir = campaign_dir / run["dir"]
    attempt, outcome, io_error = None, None, None
    if leader:
        try:
            outcome = completed_before(run_dir, run)
            if outcome is None:
                attempt = begin_attempt(campaign_dir, run, manifest, build, options, gpus, group, comm.Get_size())
        except OSError as exc:
            io_error = exc
    accel = comm.bcast(attempt.accel if attempt is not None else None, root=0)
    if accel is None:
        return outcome, io_error
    result = run_in_process(run_dir, json.loads((run_dir / "run.json").read_text()), comm, accel)
    if attempt is None:
        return None, None
    try:
        finish_attempt(attempt, result)
    except OSError as exc:
        return result, exc
    return result, None


def _record_io_error(run_dir: Path, error: OSError) -> str:
    where = f" ({error.filename})" if error.filename else ""
    message = f"cannot write the run folder: {error.strerror or error}{where}"
    try:
        update_status(run_dir, state="failed", reason="io_error", message=message)
    except OSError:
        message += "; status.json could not be updated either"
    return message


def _group_loop(campaign_dir: Path, manifest: dict[str, Any], runs: list[dict[str, Any]], build: LammpsBuild,
                options: LaunchOptions, gpus: list[str], group: int, comm: Any | None, in_group_rank: int,
                log: IO[str]) -> None:
    """Claim runs one after another (longest first) and execute them, until none is left to claim.
    With ``comm`` (K ranks per run) the group leader claims and prepares, and all K ranks drive LAMMPS."""
    leader = in_group_rank == 0
    unwritable: set[str] = set()   # runs whose folder could not be written: not claimed again by this launcher
    while True:
        claim = _claim(campaign_dir, runs, options, unwritable, log) if leader else None
        claimed = claim[0] if claim is not None else None
        if comm is not None:
            claimed = comm.bcast(claimed, root=0)
        if claimed is None:
            return
        label = f"[harness] group {group}: {claimed['run_id']}"
        try:
            if leader:
                _say(log, f"{label} started")
            outcome: Outcome | None = None
            io_error: OSError | None = None
            if comm is None:
                try:
                    outcome = _run_alone(campaign_dir, claimed, manifest, build, options, gpus, group)
                except OSError as exc:
                    io_error = exc
            else:
                outcome, io_error = _run_in_group(campaign_dir, claimed, manifest, build, options, gpus, group,
                                                  comm, leader)
            if leader and io_error is not None:
                unwritable.add(claimed["run_id"])
                message = _record_io_error(campaign_dir / claimed["dir"], io_error)
                _say(log, f"{label} failed (io_error: {message})")
            elif leader and outcome is not None:
                detail = f" ({outcome.reason}: {outcome.message})" if outcome.state == "failed" else ""
                _say(log, f"{label} {outcome.state} at {outcome.time_ps:g} ps{detail}")
        finally:
            if claim is not None:
                try:
                    claim[1].release()
                except OSError:
                    pass


# ------------------------------------------------------------------------------------------ the farm

def _progress_printer(campaign_dir: Path, manifest: dict[str, Any], every_s: float, stop: threading.Event,
                      log: IO[str]) -> None:
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


def launch(campaign_dir: Path, options: LaunchOptions | None = None, log: IO[str] | None = None) -> int:
    """Run the campaign's runs; returns 0 when every selected run has ended (done or failed)."""
    options = options or LaunchOptions()
    log = log or sys.stdout
    comm_world = world(options.ranks_per_run)
    rank, size = comm_world.Get_rank(), comm_world.Get_size()
    k = options.ranks_per_run
    if k < 1 or k > size:
        raise HarnessError(f"--ranks-per-run must be between 1 and the number of MPI ranks ({size}), got {k}")
    manifest = load_manifest(campaign_dir)
    build = find_lammps(options.lmp)
    for warning in launch_gate(manifest, build, k, options.force_unchecked):
        if rank == 0:
            _say(log, f"[harness] warning: {warning}")
    gpus = visible_gpus()
    ngroups = size // k
    group = rank // k
    comm = comm_world.Split(group if group < ngroups else ngroups, rank)
    in_group_rank = comm.Get_rank()
    runs = _ordered_runs(manifest, options.only)
    if rank == 0:
        counts = summarize(campaign_dir, manifest)
        _say(log, f"[harness] campaign {manifest['campaign']}: {len(runs)} runs, {counts['done']} done already; "
             f"{size} rank(s), {ngroups} group(s) of {k}; LAMMPS {build.version} ({build.origin}); "
             f"GPUs visible: {len(gpus)}")
    stop = threading.Event()
    if rank == 0 and options.progress_every_s > 0:
        threading.Thread(target=_progress_printer, args=(campaign_dir, manifest, options.progress_every_s, stop, log),
                         daemon=True).start()
    if group < ngroups:
        _group_loop(campaign_dir, manifest, runs, build, options, gpus, group, comm if k > 1 else None,
                    in_group_rank, log)
    elif in_group_rank == 0:
        _say(log, f"[harness] rank {rank}: idle ({size} ranks do not divide into groups of {k})")
    wait_without_spinning(comm_world.Ibarrier())
    stop.set()
    if rank != 0:
        return 0
    counts = summarize(campaign_dir, manifest)
    unfinished = [r["run_id"] for r in runs if read_status(campaign_dir / r["dir"]).get("state") not in ("done", "failed")]
    _say(log, f"[harness] finished: {counts['done']} done, {counts['failed']} failed, {len(unfinished)} not finished "
         f"(see `harness status {campaign_dir}`)")
    return 0 if not unfinished else 3
