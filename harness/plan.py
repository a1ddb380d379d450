"""harness plan: what a campaign will cost before it is launched.

Per task and potential: runs, atoms, steps, atom-steps, and the predicted wall time per run and for the whole
campaign on N ranks (one run per rank, or per GPU), farmed longest first as `harness launch` does. The speed of each
potential (atom-steps per second on one rank, plus a fixed start-up cost per run) comes from a short calibration
run (NVT MD of the campaign's largest structure for that potential, with thermo output every 10 steps as the
templates' monitoring has, run as min(N, CPUs) concurrent copies so that cores shared by the launch's ranks are
shared in the calibration too; a calculator potential's MD through its runner, as the launch runs it, so its
model's start-up counts as start-up; cached in CAMPAIGN/plan/calibration.json), or from a throughput the user gives
(``--throughput NAME=ATOMSTEPS_PER_S``).

Steps of a run: MD tasks their timesteps (robustness: plus its relaxation's iteration limit), relaxations their
iteration limit (an upper bound: minimisations usually stop earlier), force single points one step per frame.
"""

from __future__ import annotations

import heapq
import json
import os
import re
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.calculator import run_files
from harness.calculator_launch import child_command
from harness.errors import HarnessError
from harness.lammps_env import LammpsBuild, child_environment, find_lammps
from harness.potentials import load_potential
from harness.rundir import write_json_atomic
from harness.tasks import REGISTRY

# the tasks whose runs are MD of nsteps timesteps (the registry says which)
MD_TASKS = tuple(task.name for task in REGISTRY if task.molecular_dynamics)
# Start-up cost per run (launcher claim + LAMMPS start + setup) when no calibration measured it.
DEFAULT_OVERHEAD_S = 0.5
CALIBRATION_TARGET_S = 1.0   # loop time each calibration measurement aims at
CALIBRATION_REPEATS = 3      # measurements; the fastest is kept: other work on a shared machine only slows one down
CALIBRATION_FORMAT = 3


@dataclass
class Speed:
    atom_steps_per_s: float
    overhead_s: float        # per run, independent of its size
    source: str              # "calibrated", "cached" or "given"
    natoms: int = 0          # of the calibration structure
    steps: int = 0
    concurrent: int = 1      # copies run at once during the calibration


@dataclass
class PlanRow:
    task: str
    potential: str
    runs: int
    atoms: int               # per run (the largest, if they differ)
    steps: int               # per run (the largest)
    atom_steps: float        # all runs of the row together
    run_wall_s: float        # the longest run of the row
    total_run_s: float       # all runs of the row together, one after another


def run_steps(run: dict[str, Any], record: dict[str, Any]) -> int:
    """Timesteps (or minimiser iterations / force evaluations) one run executes."""
    task = run["task"]
    if task in MD_TASKS:
        return int(run["nsteps"]) + int(record.get("params", {}).get("relax_max_iterations", 0) or 0)
    if task == "forces":
        return int(run["nsteps"])
    if task == "single_point":
        return 1
    natoms = max(int(record.get("natoms", 1)), 1)
    return max(1, round(float(run.get("cost", natoms)) / natoms))   # relax: the iteration limit


def _records(campaign_dir: Path, manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["run_id"]: json.loads((campaign_dir / r["dir"] / "run.json").read_text()) for r in manifest["runs"]}


# ------------------------------------------------------------------------------------------ calibration

@dataclass(frozen=True)
class CalibrationInput:
    """What one calibration measurement runs: in.lammps, the files beside it (a calculator potential's runner and
    its config) and the command (`lmp -in in.lammps`, or the runner for a calculator potential)."""
    text: str
    files: dict[str, str]
    command: list[str]


def _calibration_input(campaign_dir: Path, manifest: dict[str, Any], run: dict[str, Any], build: LammpsBuild,
                       steps: int) -> CalibrationInput:
    potential = run["potential"]
    pot = load_potential(str(campaign_dir / "potentials" / potential / Path(manifest["potentials"][potential]["source"]).name))
    files = {key: str((campaign_dir / "potentials" / potential / item.path.name).resolve()) for key, item in pot.files.items()}
    lines = ["units metal", "atom_style atomic", "boundary p p p", "atom_modify map array",
             f"read_data {(campaign_dir / run['dir'] / 'data.lmp').resolve()}", *pot.pair_lines(files),
             "neighbor 2.0 bin", "neigh_modify every 1 delay 0 check yes", f"timestep {pot.timestep_fs / 1000.0}",
             "velocity all create 600.0 4928 dist gaussian mom yes rot yes", "fix nvt all nvt temp 600.0 600.0 0.1",
             "thermo_style custom step temp pe press", "thermo 10", f"run {steps}"]
    text = "\n".join(lines) + "\n"
    runner = child_command(manifest, run)   # a calculator potential: LAMMPS driven by its runner, as launch does
    if runner is None:
        return CalibrationInput(text, {}, [build.executable, "-in", "in.lammps", "-log", "log.lammps"])
    return CalibrationInput(text, run_files(pot, files), runner)


def _time_lammps(build: LammpsBuild, folder: Path, what: CalibrationInput, copies: int = 1) -> tuple[float, float, int]:
    """(mean process wall s, mean LAMMPS loop s, steps) of ``copies`` runs of one input started together."""
    processes = []
    for index in range(copies):
        run_dir = folder / f"copy{index}"
        run_dir.mkdir(exist_ok=True)
        for name, text in {**what.files, "in.lammps": what.text}.items():
            (run_dir / name).write_text(text)
        processes.append((run_dir, time.perf_counter(), subprocess.Popen(
            what.command, cwd=run_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=child_environment(build.library_dirs, {}))))
    walls, loops, steps = [], [], 0
    for run_dir, started, process in processes:
        stdout, stderr = process.communicate(timeout=600)
        walls.append(time.perf_counter() - started)
        loop = re.search(r"Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps", stdout)
        if process.returncode != 0 or loop is None:
            error = next((l for l in stdout.splitlines() if l.startswith("ERROR")), stderr.strip()[-300:])
            raise HarnessError(f"calibration run in {run_dir} failed: {error}")
        loops.append(float(loop.group(1)))
        steps = int(loop.group(2))
    return sum(walls) / copies, sum(loops) / copies, steps


def calibrate(campaign_dir: Path, manifest: dict[str, Any], potential: str, build: LammpsBuild,
              copies: int = 1) -> Speed:
    """Time NVT MD of the largest structure of ``potential``'s runs: a probe, then CALIBRATION_REPEATS measurements
    of ~CALIBRATION_TARGET_S of loop (the fastest is kept), each as ``copies`` runs at once (the per-run speed when
    that many runs share this machine)."""
    records = _records(campaign_dir, manifest)
    candidates = [r for r in manifest["runs"] if r["potential"] == potential]
    md = [r for r in candidates if r["task"] in MD_TASKS] or candidates
    run = max(md, key=lambda r: records[r["run_id"]]["natoms"])
    natoms = int(records[run["run_id"]]["natoms"])
    with tempfile.TemporaryDirectory(prefix="harness-plan-") as tmp:
        folder = Path(tmp)
        # a model behind a calculator takes milliseconds per step or more: 10 steps size the measurement
        probe_steps = 10 if child_command(manifest, run) is not None else max(10, 20000 // natoms)
        _, probe_loop, _ = _time_lammps(build, folder, _calibration_input(campaign_dir, manifest, run, build,
                                                                          probe_steps))
        rate = natoms * probe_steps / max(probe_loop, 1e-6)
        steps = int(min(max(probe_steps, CALIBRATION_TARGET_S * rate / natoms), 1_000_000))
        what = _calibration_input(campaign_dir, manifest, run, build, steps)
        measured = [_time_lammps(build, folder, what, copies) for _ in range(CALIBRATION_REPEATS)]
    loop = min(m[1] for m in measured)
    start_up = min(m[0] - m[1] for m in measured)
    return Speed(natoms * steps / max(loop, 1e-9), max(start_up, 0.0), "calibrated", natoms, steps, copies)


def _calibration_key(manifest: dict[str, Any], potential: str, build: LammpsBuild, copies: int) -> str:
    files = manifest["potentials"][potential].get("files", {})
    return json.dumps([CALIBRATION_FORMAT, potential, sorted((k, v.get("sha256")) for k, v in files.items()),
                       build.executable, build.version, copies])


def speeds(campaign_dir: Path, manifest: dict[str, Any], given: dict[str, float], lmp: str | None = None,
           recalibrate: bool = False, log: Any = None, copies: int = 1) -> dict[str, Speed]:
    """The speed of every potential of the campaign: given, cached in CAMPAIGN/plan/calibration.json, or measured."""
    unknown = sorted(set(given) - set(manifest["potentials"]))
    if unknown:
        raise HarnessError(f"--throughput: no potential {unknown[0]} in this campaign "
                           f"(has: {', '.join(manifest['potentials'])})")
    result = {name: Speed(value, DEFAULT_OVERHEAD_S, "given") for name, value in given.items()}
    missing = [name for name in manifest["potentials"] if name not in result]
    if not missing:
        return result
    build = find_lammps(lmp)
    cache_path = campaign_dir / "plan" / "calibration.json"
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, json.JSONDecodeError):
        cache = {}
    for name in missing:
        key = _calibration_key(manifest, name, build, copies)
        if key in cache and not recalibrate:
            result[name] = Speed(**{**cache[key], "source": "cached"})
            continue
        if log is not None:
            log.write(f"[plan] calibrating {name} with {build.executable} ({copies} at once) ...\n")
            log.flush()
        result[name] = calibrate(campaign_dir, manifest, name, build, copies)
        cache[key] = asdict(result[name])
        cache_path.parent.mkdir(exist_ok=True)
        write_json_atomic(cache_path, cache)
    return result


# ------------------------------------------------------------------------------------------ the prediction

def predicted_run_s(natoms: int, steps: int, speed: Speed) -> float:
    return speed.overhead_s + natoms * steps / speed.atom_steps_per_s


def farm_makespan(durations: list[float], slots: int) -> float:
    """Wall time of running ``durations`` on ``slots`` workers, each taking the longest run left (as launch does)."""
    finish = [0.0] * max(slots, 1)
    for duration in sorted(durations, reverse=True):
        heapq.heappush(finish, heapq.heappop(finish) + duration)
    return max(finish)


def plan_campaign(campaign_dir: Path, ranks: int, given: dict[str, float] | None = None, lmp: str | None = None,
                  recalibrate: bool = False, log: Any = None) -> dict[str, Any]:
    """The plan of a rendered campaign (see the module docstring); a JSON-ready dict."""
    from harness.rundir import load_manifest
    if ranks < 1:
        raise HarnessError(f"--ranks must be at least 1, got {ranks}")
    manifest = load_manifest(campaign_dir)
    records = _records(campaign_dir, manifest)
    copies = max(1, min(ranks, os.cpu_count() or 1))   # runs that share this machine's cores in the launch
    speed = speeds(campaign_dir, manifest, given or {}, lmp, recalibrate, log, copies)
    rows: dict[tuple[str, str], PlanRow] = {}
    durations = []
    for run in manifest["runs"]:
        natoms, steps = int(records[run["run_id"]]["natoms"]), run_steps(run, records[run["run_id"]])
        seconds = predicted_run_s(natoms, steps, speed[run["potential"]])
        durations.append(seconds)
        row = rows.setdefault((run["task"], run["potential"]), PlanRow(run["task"], run["potential"], 0, 0, 0, 0.0,
                                                                        0.0, 0.0))
        row.runs += 1
        row.atoms, row.steps = max(row.atoms, natoms), max(row.steps, steps)
        row.atom_steps += natoms * steps
        row.run_wall_s = max(row.run_wall_s, seconds)
        row.total_run_s += seconds
    return {"campaign": manifest["campaign"], "campaign_dir": str(campaign_dir), "ranks": ranks,
            "speeds": {name: asdict(s) for name, s in speed.items()},
            "rows": [asdict(r) for r in rows.values()],
            "total": {"runs": len(durations), "atom_steps": sum(r.atom_steps for r in rows.values()),
                      "serial_s": sum(durations), "wall_s": farm_makespan(durations, ranks)}}


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_plan(plan: dict[str, Any]) -> str:
    lines = [f"campaign {plan['campaign']} on {plan['ranks']} rank(s) (one run per rank or GPU)", ""]
    for name, s in plan["speeds"].items():
        where = (f" ({s['natoms']} atoms x {s['steps']} steps, {s['concurrent']} at once)"
                 if s["source"] != "given" else "")
        lines.append(f"  {name}: {s['atom_steps_per_s']:.4g} atom-steps/s per rank, {s['overhead_s']:.2f} s per run "
                     f"start-up [{s['source']}{where}]")
    header = f"{'task':<14} {'potential':<18} {'runs':>5} {'atoms':>6} {'steps':>9} {'atom-steps':>11} " \
             f"{'per run':>10} {'all runs':>10}"
    lines += ["", header, "-" * len(header)]
    for r in plan["rows"]:
        lines.append(f"{r['task']:<14} {r['potential']:<18} {r['runs']:>5} {r['atoms']:>6} {r['steps']:>9} "
                     f"{r['atom_steps']:>11.3g} {_duration(r['run_wall_s']):>10} {_duration(r['total_run_s']):>10}")
    total = plan["total"]
    lines += ["-" * len(header),
              f"{'total':<14} {'':<18} {total['runs']:>5} {'':>6} {'':>9} {total['atom_steps']:>11.3g} {'':>10} "
              f"{_duration(total['serial_s']):>10}",
              "", f"predicted wall time on {plan['ranks']} rank(s), longest run first: {_duration(total['wall_s'])}"]
    return "\n".join(lines)


def parse_throughputs(items: list[str]) -> dict[str, float]:
    given = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not name or not number > 0:
            raise HarnessError(f"--throughput {item!r}: expected NAME=ATOMSTEPS_PER_S with a positive number")
        given[name] = number
    return given
