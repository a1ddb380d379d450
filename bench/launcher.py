"""Benchmark the launcher against plain LAMMPS, side by side in one run (prints a Markdown table).

  .venv/bin/python bench/launcher.py [--steps 10000] [--repeats 3]

1. Overhead: the same rendered run (672-atom Li7P3S11, toy-morse, NVT) by `lmp -in in.lammps` directly and by
   `harness launch` (one process); ratio of median wall times (goal: <= 1.02 at 10k steps).
2. Start-up per run: 10 single-point runs through `harness launch` vs a shell loop of `lmp` over the same folders.
3. Farm scaling: 8 equal runs with 1 rank vs `mpirun -n 2` (goal: ratio >= 1.8 on 2 free cores).
4. Checkpoint segments: the run of 1. with a restart file and LAMMPS re-setup every 1 ps (10 segments) vs none,
   both by `lmp -in` directly: the price of bit-identical resumes.
5. The launcher's fixed cost: one single point (Li7P3S11, 42 atoms) by `lmp -in` vs by `harness launch` on a
   one-run campaign (not in the default parts).
Select with --parts (default 1,2,3,4).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.lammps_env import child_environment, find_lammps  # noqa: E402
from harness.render import render_campaign  # noqa: E402

ONE_RUN = """
[campaign]
name = "bench"
potentials = ["toy-morse"]
thermo_every_ps = 0.1
restart_every_ps = 100.0
[conductivity]
supercell = [4, 2, 2]
temperatures_K = {temperatures}
duration_ps = {duration}
equilibration_ps = 0
repeats = 1
dump_interval_ps = 1.0
"""
SINGLE_POINTS = """
[campaign]
name = "startup"
potentials = ["toy-morse"]
[formation]
single_point = ["Li2S", "Li7P3S11", "beta-Li3PS4", "gamma-Li3PS4", "{cif}"]
"""


def _render(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "c.toml").write_text(text)
    render_campaign(folder / "c.toml", folder / "out")
    return folder / "out"


def _timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def _reset(campaign: Path) -> None:
    """Forget results so the launcher runs everything again (re-render keeps inputs)."""
    for run in (campaign / "runs").iterdir():
        for entry in run.iterdir():
            if entry.name not in ("in.lammps", "data.lmp", "run.json"):
                entry.unlink()
        (run / "status.json").write_text('{"state": "pending", "attempts": 0}\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", default="1,2,3,4", help="which measurements, comma separated")
    args = parser.parse_args()
    parts = {int(p) for p in args.parts.split(",")}
    build = find_lammps()
    env = child_environment(build.library_dirs)
    harness = [sys.executable, "-m", "harness", "launch", "--progress-every", "0"]
    mpirun = str(Path(sys.executable).parent / "mpirun")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        # 1. overhead on one long run
        campaign = _render(tmp_path / "one", ONE_RUN.format(temperatures="[600]", duration=args.steps / 1000))
        run_dir = next((campaign / "runs").iterdir())
        direct_dir = tmp_path / "direct"
        direct, launched = [], []
        for _ in range(args.repeats if 1 in parts else 0):
            shutil.rmtree(direct_dir, ignore_errors=True)
            shutil.copytree(run_dir, direct_dir)
            direct.append(_timed([build.executable, "-in", "in.lammps", "-log", "log.lammps"], direct_dir, env))
            _reset(campaign)
            launched.append(_timed([*harness, str(campaign)], REPO))
        if 1 in parts:
            ratio = statistics.median(launched) / statistics.median(direct)
            rows.append(("overhead, one run of %d steps (672 atoms), median" % args.steps,
                         f"{statistics.median(direct):.2f} s", f"{statistics.median(launched):.2f} s", f"{ratio:.3f}",
                         "<= 1.02"))
            rows.append(("overhead, same runs, best of %d (less sensitive to other load)" % args.repeats,
                         f"{min(direct):.2f} s", f"{min(launched):.2f} s", f"{min(launched) / min(direct):.3f}",
                         "<= 1.02"))
            print("overhead runs (s): lmp " + " ".join(f"{t:.2f}" for t in direct) + "; harness "
                  + " ".join(f"{t:.2f}" for t in launched), flush=True)
        # 2. start-up per run
        cif = REPO / "inputs" / "structures" / "Li7P3S11_P-1_42at_torchdisorder.cif"
        many = _render(tmp_path / "many", SINGLE_POINTS.format(cif=cif))
        run_dirs = sorted((many / "runs").iterdir())
        loop, farm = [], []
        for _ in range(args.repeats if 2 in parts else 0):
            start = time.perf_counter()
            for folder in run_dirs:
                subprocess.run([build.executable, "-in", "in.lammps", "-log", "none"], cwd=folder, check=True,
                               stdout=subprocess.DEVNULL, env=env)
            loop.append(time.perf_counter() - start)
            _reset(many)
            farm.append(_timed([*harness, str(many)], REPO))
        if 2 in parts:
            per_run = (statistics.median(farm) - statistics.median(loop)) / len(run_dirs)
            rows.append((f"start-up, {len(run_dirs)} single points", f"{statistics.median(loop):.2f} s",
                         f"{statistics.median(farm):.2f} s", f"+{per_run:.2f} s per run", "< 2 s per run"))
        # 3. farm scaling
        eight = _render(tmp_path / "eight", ONE_RUN.format(temperatures="[500, 550, 600, 650, 700, 750, 800, 850]",
                                                          duration=args.steps / 4000))
        one_rank, two_ranks = [], []
        for _ in range(args.repeats if 3 in parts else 0):
            _reset(eight)
            one_rank.append(_timed([*harness, str(eight)], REPO))
            _reset(eight)
            two_ranks.append(_timed([mpirun, "-n", "2", *harness, str(eight)], REPO))
        if 3 in parts:
            speedup = statistics.median(one_rank) / statistics.median(two_ranks)
            rows.append(("farm scaling, 8 runs, 1 vs 2 ranks", f"{statistics.median(one_rank):.2f} s",
                         f"{statistics.median(two_ranks):.2f} s", f"{speedup:.2f}x", ">= 1.8x"))
        # 4. checkpoint segments against one uninterrupted `run`, both by plain lmp
        if 4 in parts:
            segmented = _render(tmp_path / "segmented", ONE_RUN.format(temperatures="[600]", duration=args.steps / 1000)
                                .replace("restart_every_ps = 100.0", "restart_every_ps = 1.0"))
            plain_times, segment_times = [], []
            for _ in range(args.repeats):
                for source, times in ((campaign, plain_times), (segmented, segment_times)):
                    shutil.rmtree(direct_dir, ignore_errors=True)
                    shutil.copytree(next((source / "runs").iterdir()), direct_dir)
                    times.append(_timed([build.executable, "-in", "in.lammps", "-log", "log.lammps"], direct_dir, env))
            cost = statistics.median(segment_times) / statistics.median(plain_times)
            rows.append((f"checkpoint segments, {args.steps} steps, none vs every 1 ps (`lmp -in` both)",
                         f"{statistics.median(plain_times):.2f} s", f"{statistics.median(segment_times):.2f} s",
                         f"{cost:.3f}", "(price of bit-identical resume)"))
        # 5. fixed cost of one launch
        if 5 in parts:
            one = _render(tmp_path / "single", SINGLE_POINTS.replace(
                'single_point = ["Li2S", "Li7P3S11", "beta-Li3PS4", "gamma-Li3PS4", "{cif}"]',
                'single_point = ["Li7P3S11"]'))
            single_dir = next((one / "runs").iterdir())
            plain_single, launched_single = [], []
            for _ in range(args.repeats):
                plain_single.append(_timed([build.executable, "-in", "in.lammps", "-log", "none"], single_dir, env))
                _reset(one)
                launched_single.append(_timed([*harness, str(one)], REPO))
            rows.append(("one single point (42 atoms), `lmp -in` vs `harness launch`, median",
                         f"{statistics.median(plain_single):.2f} s", f"{statistics.median(launched_single):.2f} s",
                         f"+{statistics.median(launched_single) - statistics.median(plain_single):.2f} s", "-"))
    print(f"# launcher benchmark, {date.today()}, {platform.node()}, {os.cpu_count()} cores, LAMMPS {build.version}")
    print(f"# command: {' '.join([Path(sys.executable).name, *sys.argv])}; medians of {args.repeats}")
    print("| measurement | reference | harness | ratio | goal |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
