"""One attempt of a claimed run: begin it (resume or fresh start, status `running`, provenance, the run's
accelerator flags and device environment) and finish it (its outcome into status.json and provenance.json)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.devices import accelerator_for, run_environment
from harness.lammps_env import LammpsBuild
from harness.launch_options import LaunchOptions
from harness.outcomes import Outcome, completed_outcome
from harness.provenance import record_finish, write_provenance
from harness.resume import prepare_attempt, remove_restarts
from harness.runstate import host_name, now_iso, read_status, update_status

DEFAULT_WALL_TIME_S = 86400.0


@dataclass
class Attempt:
    run_dir: Path
    record: dict[str, Any]
    wall_time_s: float
    accel: list[str]
    env_extra: dict[str, str]
    started: float


def completed_before(run_dir: Path, run: dict[str, Any]) -> Outcome | None:
    """The outcome of a claimed run whose last attempt completed but whose launcher died before recording so
    (recorded now); None for a run to attempt."""
    status = read_status(run_dir)
    done = completed_outcome(run_dir, run)
    if done is None or status.get("attempts", 0) == 0:
        return None
    update_status(run_dir, state="done", reason=None, message=None, step=done.step, time_ps=done.time_ps)
    return done


def begin_attempt(campaign_dir: Path, run: dict[str, Any], manifest: dict[str, Any], build: LammpsBuild,
                  options: LaunchOptions, gpus: list[str], group: int, ranks: int) -> Attempt:
    """Prepare a claimed run (resume or fresh start), mark it running and write its provenance."""
    run_dir = campaign_dir / run["dir"]
    record = json.loads((run_dir / "run.json").read_text())
    status = read_status(run_dir)
    resumed_from = prepare_attempt(run_dir)
    accel = accelerator_for(manifest, run["potential"], options, gpus)
    env_extra = run_environment(manifest, run["potential"], gpus, group, options.accelerator)
    update_status(run_dir, state="running", reason=None, message=None, attempts=int(status.get("attempts", 0)) + 1,
                  host=options.host or host_name(), resumed_from_step=resumed_from, started=now_iso())
    write_provenance(run_dir, record, manifest, build,
                     {"host": options.host or host_name(), "accelerator_args": accel,
                      "cuda_visible_devices": env_extra.get("CUDA_VISIBLE_DEVICES"), "ranks": ranks,
                      "resumed_from_step": resumed_from})
    wall_time_s = float(options.wall_time_s or record.get("wall_time_s") or DEFAULT_WALL_TIME_S)
    return Attempt(run_dir, record, wall_time_s, accel, env_extra, time.monotonic())


def finish_attempt(attempt: Attempt, outcome: Outcome) -> None:
    run_dir = attempt.run_dir
    wall_s = round(time.monotonic() - attempt.started, 3)
    if outcome.state == "done":
        remove_restarts(run_dir)
    record_finish(run_dir, wall_s)
    update_status(run_dir, state=outcome.state, reason=outcome.reason, message=outcome.message, step=outcome.step,
                  time_ps=outcome.time_ps, wall_s=wall_s)
