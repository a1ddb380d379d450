"""kill -9 of the launcher in the middle of a run, relaunch: the resumed run's dump and progress.dat are byte for
byte those of the same input run by plain LAMMPS without interruption. Here for the two inputs whose restart
logic is more than one `run`: robustness (minimize + reset_timestep before the MD) and the multi-stage
melt-quench (heat, hold, quench: killed after the heating stage). Conductivity: tests/harness/test_launch.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.lammps_env import find_lammps
from harness.resume import last_progress
from harness.render import render_campaign
from harness_testlib import REPO, harness, statuses, write_campaign

HEAD = """
[campaign]
name = "resume"
potentials = ["toy-morse"]
seed = 11
restart_every_ps = 0.25
thermo_every_ps = 0.01
wall_time_s = 600
"""

ROBUSTNESS = HEAD + """
[robustness]
natoms = 210
temperatures_K = [1000]
pressures_Pa = ["1 GPa"]
duration_ps = 2.5
repeats = 1
dump_interval_ps = 0.05
relax_max_iterations = 200
"""

MELT_QUENCH = HEAD + """
[melt_quench]
supercell = [2, 2, 1]
T_high_K = 900
heating_rate_K_per_ps = 600
quench_rate_K_per_ps = 600
hold_ps = 0.5
dump_interval_ps = 0.05
"""


def _kill_launcher_after(out: Path, run_id: str, restart_step: int) -> int:
    """Launch, wait until the run has written a restart file at or after ``restart_step`` and gone on past it
    (the kill lands inside the next segment), kill -9 the launcher; return the step of that restart file."""
    run_dir = out / "runs" / run_id
    launcher = subprocess.Popen([sys.executable, "-m", "harness", "launch", str(out), "--progress-every", "0"],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.time() + 240
    written: list[int] = []
    try:
        while time.time() < deadline and launcher.poll() is None:
            written = [int(p.name.split(".")[1]) for p in run_dir.glob("restart.*.bin")]
            done = [s for s in written if s >= restart_step]
            if done and last_progress(run_dir)[0] > min(done) + 20:
                break
            time.sleep(0.05)
    finally:
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
    assert launcher.returncode == -signal.SIGKILL, "the run finished before it could be interrupted: make it longer"
    assert any(s >= restart_step for s in written)
    time.sleep(0.5)   # the killed launcher's LAMMPS dies with it (PR_SET_PDEATHSIG)
    return max(s for s in written if s >= restart_step)


def _uninterrupted(run_dir: Path, folder: Path) -> Path:
    """The same rendered input run from start to end by plain LAMMPS in a fresh folder."""
    folder.mkdir()
    for name in ("in.lammps", "data.lmp"):
        (folder / name).write_bytes((run_dir / name).read_bytes())
    build = find_lammps()
    subprocess.run([build.executable, "-in", "in.lammps", "-log", "none", "-screen", "none"], cwd=folder,
                   env={**os.environ, "LD_LIBRARY_PATH": ":".join(build.library_dirs), "OMP_NUM_THREADS": "1"},
                   check=True, timeout=300)
    return folder


def _resume_is_bit_identical(tmp_path: Path, text: str, run_id: str, kill_after_step: int) -> dict:
    out = tmp_path / "out"
    render_campaign(write_campaign(tmp_path, text), out)
    _kill_launcher_after(out, run_id, kill_after_step)
    assert statuses(out)[run_id]["state"] == "running"           # interrupted, not finished
    result = harness("launch", str(out), "--progress-every", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    status = statuses(out)[run_id]
    assert status["state"] == "done" and status["attempts"] == 2
    assert status["resumed_from_step"] >= kill_after_step
    run_dir = out / "runs" / run_id
    reference = _uninterrupted(run_dir, tmp_path / "uninterrupted")
    for name in ("traj.lammpstrj", "progress.dat"):
        assert (run_dir / name).read_bytes() == (reference / name).read_bytes(), name
    return status


def test_robustness_run_resumes_bit_for_bit_after_the_relaxation(tmp_path):
    run_id = "t4-robustness-toy-morse-T1000-p1e9-r1"
    status = _resume_is_bit_identical(tmp_path, ROBUSTNESS, run_id, 250)
    assert status["resumed_from_step"] < status["nsteps"]
    # the relaxation ran once, in the first attempt (screen.out collects both attempts), and once uninterrupted
    screen = (tmp_path / "out" / "runs" / run_id / "screen.out").read_text()
    assert screen.count("Minimization stats:") == 1


def test_melt_quench_resumes_bit_for_bit_in_a_later_stage(tmp_path):
    run_id = "t2-meltquench-toy-morse-npt-r1"
    heat_end = round((900 - 300) / 600 * 1000)        # steps of 1 fs
    _resume_is_bit_identical(tmp_path, MELT_QUENCH, run_id, heat_end + 250)
    record = json.loads((tmp_path / "out" / "runs" / run_id / "run.json").read_text())
    steps = [int(line.split()[0]) for line in (tmp_path / "out" / "runs" / run_id / "progress.dat").read_text().splitlines()
             if not line.startswith("#")]
    assert steps[-1] == record["nsteps"]
