"""A real one-node Slurm (scripts/setup-slurm.sh): render --slurm -> sbatch -> every run done in one MPI world;
scancel half-way or a job's time limit -> sbatch again -> every run done once, resumed runs bit-identical."""

import subprocess
import time
from pathlib import Path

import pytest

from harness.resume import complete_restart_files
from cluster_testlib import (TINY, md_campaign, done_lines, harness, job_state, launcher_lines, require_slurm, run_json,
                             run_plain_lammps, sbatch, statuses, wait_job, write_campaign)


@pytest.fixture(autouse=True)
def _slurm():
    require_slurm()


SHORT = TINY.split("[robustness]")[0]
# three MD runs of ~7 s each with restart files every 2 ps: cancelled while some run
LONG = md_campaign([600, 700, 800], 20.0, 2.0, 0.1)


def _render(tmp_path: Path, text: str, *slurm_args: str) -> Path:
    out = tmp_path / "out"
    result = harness("render", str(write_campaign(tmp_path, text)), "--out", str(out), "--slurm", *slurm_args)
    assert result.returncode == 0, result.stderr
    return out


def _wait_for(out: Path, job: str, done_at_least: int, timeout_s: float = 240) -> None:
    """Until ``done_at_least`` runs are done and another has a restart file that a resume would use (or the job
    ended). A restart file counts once progress.dat has moved past its step (harness.resume.complete_restart_files):
    cancelling between the write of the file and the next progress line makes the run start afresh, correctly."""
    deadline = time.time() + timeout_s
    while time.time() < deadline and job_state(job) in ("PENDING", "RUNNING", "CONFIGURING"):
        states = statuses(out) if (out / "runs").is_dir() else {}
        done = [r for r, s in states.items() if s.get("state") == "done"]
        running = [r for r, s in states.items() if s.get("state") == "running"
                   and complete_restart_files(out / "runs" / r)]
        if len(done) >= done_at_least and running:
            return
        time.sleep(0.3)


def _assert_resumed_runs_are_bit_identical(out: Path, tmp_path: Path, resumed: list[str]) -> None:
    for run_id in resumed:
        run_dir = out / "runs" / run_id
        reference = tmp_path / "uninterrupted" / run_id
        run_plain_lammps(run_dir, reference)
        for name in ("traj.lammpstrj", "progress.dat"):
            assert (run_dir / name).read_bytes() == (reference / name).read_bytes(), f"{run_id}/{name}"


def test_sbatch_runs_the_campaign_in_one_two_rank_world(tmp_path):
    out = _render(tmp_path, SHORT, "--ntasks", "2", "--ranks-per-run", "2", "--time", "5")
    script = (out / "submit.slurm").read_text()
    assert "srun --mpi=pmi2 " in script
    job = sbatch(out / "submit.slurm")
    assert wait_job(job, 240) == "COMPLETED", launcher_lines(out)
    lines = launcher_lines(out)
    assert any("2 rank(s), 1 group(s) of 2" in line for line in lines), lines   # one world, not 2 singletons
    states = statuses(out)
    assert states and all(s["state"] == "done" and s["attempts"] == 1 for s in states.values()), states
    assert done_lines(lines) == {run_id: 1 for run_id in states}


def test_scancel_half_way_then_sbatch_again_finishes_every_run_once(tmp_path):
    out = _render(tmp_path, LONG, "--ntasks", "2", "--time", "10")
    job = sbatch(out / "submit.slurm")
    _wait_for(out, job, done_at_least=1)
    subprocess.run(["scancel", job], check=True, timeout=30)
    assert wait_job(job, 120) == "CANCELLED"
    before = statuses(out)
    finished_before = {r for r, s in before.items() if s["state"] == "done"}
    interrupted = [r for r, s in before.items() if s["state"] == "running"]
    assert finished_before and interrupted, before

    second = sbatch(out / "submit.slurm")
    assert wait_job(second, 300) == "COMPLETED", launcher_lines(out)
    after = statuses(out)
    assert all(s["state"] == "done" for s in after.values()), after
    for run_id in finished_before:
        assert after[run_id]["attempts"] == 1                  # never executed again
    assert done_lines(launcher_lines(out)) == {run_id: 1 for run_id in after}
    resumed = [r for r in interrupted if after[r].get("resumed_from_step")]
    assert resumed, {r: after[r] for r in interrupted}
    _assert_resumed_runs_are_bit_identical(out, tmp_path, resumed)


def test_a_job_that_hits_its_time_limit_is_resumed_by_the_next_submission(tmp_path):
    # about 140 s of MD on two ranks here (more under load): more than the one-minute time limit of the first job
    text = md_campaign([600, 700, 800, 900], 200.0, 5.0, 1.0)
    out = _render(tmp_path, text, "--ntasks", "2", "--time", "1")
    job = sbatch(out / "submit.slurm")
    assert wait_job(job, 240) == "TIMEOUT", launcher_lines(out)
    before = statuses(out)
    assert any(s["state"] == "running" for s in before.values()), before

    second = sbatch(out / "submit.slurm", "--time=10")    # the same script, a longer limit on the command line
    assert wait_job(second, 400) == "COMPLETED", launcher_lines(out)
    after = statuses(out)
    assert all(s["state"] == "done" for s in after.values()), after
    assert done_lines(launcher_lines(out)) == {run_id: 1 for run_id in after}
    resumed = [r for r, s in after.items() if s.get("resumed_from_step")]
    assert resumed
    for run_id in resumed:
        assert after[run_id]["step"] == run_json(out / "runs" / run_id)["nsteps"]
