"""Fault injection: kill -9 the launcher (the whole `mpirun -n 2 harness launch` process group) at random moments,
relaunch after each kill, and check that (a) every run ends done, (b) no run that had finished was executed again,
(c) the results equal those of an uninterrupted campaign with the same seeds.

  .venv/bin/python bench/kill_relaunch.py [--kills 10] [--seed 1] [--ranks 2]

Every run must be byte-identical to the uninterrupted campaign (trajectory and progress.dat, or result.json),
including the runs resumed from a restart file: MD runs are cut into checkpoint segments that each start from a
restart file (templates/_segment_begin.j2), so a resumed run repeats exactly what an uninterrupted one does.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.render import render_campaign  # noqa: E402

CAMPAIGN = """
[campaign]
name = "kill-relaunch"
potentials = ["toy-morse"]
seed = 11
restart_every_ps = 0.2
thermo_every_ps = 0.05
[conductivity]
supercell = [2, 2, 1]
temperatures_K = [500, 600, 700, 800, 900, 1000]
duration_ps = 6.0
equilibration_ps = 0.1
repeats = 1
dump_interval_ps = 0.1
[robustness]
natoms = 84
temperatures_K = [1500]
pressures_Pa = [1e8]
duration_ps = 3.0
repeats = 1
dump_interval_ps = 0.1
[melt_quench]
supercell = [2, 1, 1]
T_high_K = 1200
heating_rate_K_per_ps = 1000
quench_rate_K_per_ps = 1000
hold_ps = 1.0
dump_interval_ps = 0.1
[formation]
structures = ["Li2S", "Li7P3S11", "beta-Li3PS4"]
"""


def _launch(campaign: Path, ranks: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "harness", "launch", str(campaign), "--progress-every", "0"]
    if ranks > 1:
        command = [str(Path(sys.executable).parent / "mpirun"), "-n", str(ranks), *command]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def _states(campaign: Path) -> dict[str, dict]:
    out = {}
    for folder in sorted((campaign / "runs").iterdir()):
        status = json.loads((folder / "status.json").read_text())
        provenance = folder / "provenance.json"
        status["started_at"] = json.loads(provenance.read_text())["started"] if provenance.is_file() else None
        out[folder.name] = status
    return out


def _positions(path: Path) -> np.ndarray:
    rows = [line.split()[2:] for line in path.read_text().splitlines()
            if line and line[0].isdigit() and len(line.split()) == 5]
    return np.array(rows, dtype=float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--keep", help="work in this folder and keep it (default: a temporary folder)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(args.keep).resolve() if args.keep else Path(tmp)
        tmp_path.mkdir(parents=True, exist_ok=True)
        (tmp_path / "c.toml").write_text(CAMPAIGN)
        reference, victim = tmp_path / "reference", tmp_path / "victim"
        render_campaign(tmp_path / "c.toml", reference)
        render_campaign(tmp_path / "c.toml", victim)
        start = time.perf_counter()
        _launch(reference, args.ranks).wait()
        full_s = time.perf_counter() - start
        print(f"uninterrupted campaign: {full_s:.1f} s")
        repeated: list[str] = []
        for kill in range(args.kills):
            before = _states(victim)
            if all(s["state"] == "done" for s in before.values()):
                print(f"kill {kill + 1}: campaign already complete, stopping early")
                break
            delay = rng.uniform(0.5, max(1.0, 3.0 * full_s / args.kills))   # spread the kills over the campaign
            launcher = _launch(victim, args.ranks)
            time.sleep(delay)
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
            time.sleep(0.3)
            after = _states(victim)
            for run_id, status in before.items():
                if status["state"] == "done" and after[run_id]["started_at"] != status["started_at"]:
                    repeated.append(run_id)
            counts = {s: sum(1 for v in after.values() if v["state"] == s) for s in ("done", "running", "pending")}
            print(f"kill {kill + 1} after {delay:.2f} s: {counts}")
        _launch(victim, args.ranks).wait()
        final = _states(victim)
        print()
        print("| run | state | attempts | resumed from step | trajectory vs uninterrupted |")
        print("|---|---|---|---|---|")
        exact = 0
        for run_id, status in final.items():
            ours, theirs = victim / "runs" / run_id, reference / "runs" / run_id
            names = [n for n in ("traj.lammpstrj", "progress.dat", "result.json") if (theirs / n).is_file()]
            different = [n for n in names
                         if not (ours / n).is_file() or (ours / n).read_bytes() != (theirs / n).read_bytes()]
            exact += not different
            if not different:
                verdict = f"identical ({', '.join(names)})"
            elif any(not (ours / n).is_file() for n in different):
                verdict = f"MISSING: {', '.join(n for n in different if not (ours / n).is_file())}"
            elif "traj.lammpstrj" in different:
                diff = np.abs(_positions(ours / "traj.lammpstrj") - _positions(theirs / "traj.lammpstrj")).max()
                verdict = f"DIFFERENT: max |dx| = {diff:.1e} Å"
            else:
                verdict = f"DIFFERENT: {', '.join(different)}"
            print(f"| {run_id} | {status['state']} | {status.get('attempts')} | {status.get('resumed_from_step')} | {verdict} |")
        print()
        print(f"all done: {all(s['state'] == 'done' for s in final.values())}; finished runs executed again: "
              f"{len(repeated)} {repeated}; identical to the uninterrupted campaign: {exact}/{len(final)}")


if __name__ == "__main__":
    main()
