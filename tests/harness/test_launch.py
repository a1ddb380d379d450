"""The launcher with real LAMMPS and real MPI: every run once, failures contained and classified, resume."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.lammps_env import MPI_ENV_PREFIXES, find_lammps
from harness.mpi_world import under_mpi_launcher
from harness.resume import truncate_dump, truncate_progress
from harness.render import render_campaign
from harness_testlib import REPO, TINY, harness, statuses, write_campaign

# Six conductivity runs and enough steps that both ranks get work.
SIX = TINY.split("[robustness]")[0].replace("[600, 800]", "[500, 600, 700, 800, 900, 1000]")


def _render(tmp_path: Path, text: str = TINY) -> Path:
    out = tmp_path / "out"
    render_campaign(write_campaign(tmp_path, text), out)
    return out


def _inject(out: Path, run_id: str, before_run: str) -> None:
    """Insert LAMMPS commands before the first `run` line of a rendered input (fault injection)."""
    path = out / "runs" / run_id / "in.lammps"
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("run ") or line.startswith('if "$(step)'))
    lines[index:index] = before_run.splitlines()
    path.write_text("\n".join(lines) + "\n")


def _write_reference(reference: Path) -> None:
    """Two 42-atom frames of Li7P3S11 from the relaxation data, with arbitrary reference forces."""
    from harness.render import find_structure
    from harness.structures import read_cif
    crystal = read_cif(find_structure("Li7P3S11", REPO))
    lattice = " ".join(f"{v:.6f}" for v in crystal.cell.ravel())
    frames = []
    for shift in (0.0, 0.05):
        rows = [f"{s} {x + shift:.6f} {y:.6f} {z:.6f} 0.1 0.0 -0.1" for s, (x, y, z) in zip(crystal.symbols, crystal.positions)]
        frames.append(f"{crystal.natoms}\nLattice=\"{lattice}\" Properties=species:S:1:pos:R:3:forces:R:3 "
                      f"energy=-100.0 pbc=\"T T T\"\n" + "\n".join(rows))
    reference.write_text("\n".join(frames) + "\n")


def test_every_template_runs_and_writes_its_outputs(tmp_path):
    reference = tmp_path / "ref.extxyz"
    _write_reference(reference)
    text = TINY.replace('single_point = ["beta-Li3PS4"]', 'single_point = ["beta-Li3PS4", "Li7P3S11"]')
    out = _render(tmp_path, text + '\n[forces]\nreference = "ref.extxyz"\n')
    result = harness("launch", str(out), "--progress-every", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    states = statuses(out)
    assert {s["state"] for s in states.values()} == {"done"}, states
    runs = out / "runs"
    traj = (runs / "t3-conductivity-toy-morse-T600-r1" / "traj.lammpstrj").read_text()
    assert traj.count("ITEM: TIMESTEP") == 11 and "ITEM: ATOMS id element xu yu zu" in traj
    robust = (runs / "t4-robustness-toy-morse-T1000-p1e6-r1" / "traj.lammpstrj").read_text()
    assert robust.count("ITEM: TIMESTEP") == 6 and "ITEM: ATOMS id element x y z" in robust
    assert (runs / "t2-meltquench-toy-morse-npt-r1" / "traj.lammpstrj").is_file()
    for run_id, natoms in (("t1-relax-toy-morse-Li2S", 12), ("t1-single-toy-morse-beta-Li3PS4", 32),
                           ("t1-single-toy-morse-Li7P3S11", 42)):
        result_json = json.loads((runs / run_id / "result.json").read_text())
        assert result_json["natoms"] == natoms and abs(result_json["energy_eV"]) < 1e4
    forces = (runs / "t2-forces-toy-morse" / "forces.lammpstrj").read_text()
    assert forces.count("ITEM: TIMESTEP") == 2 and "ITEM: ATOMS id element fx fy fz" in forces
    energies = [l for l in (runs / "t2-forces-toy-morse" / "energies.dat").read_text().splitlines() if not l.startswith("#")]
    assert [int(line.split()[0]) for line in energies] == [0, 1]
    frame_energies = [float(line.split()[1]) for line in energies]
    # the single-point energy of the crystal equals the forces task's energy of the same (unshifted) frame, and
    # the second frame is the first rigidly translated under periodic boundaries: the same energy again
    single = json.loads((runs / "t1-single-toy-morse-Li7P3S11" / "result.json").read_text())["energy_eV"]
    assert frame_energies[0] == pytest.approx(single, abs=1e-3)
    assert frame_energies[1] == pytest.approx(frame_energies[0], abs=1e-3)
    assert frame_energies[0] != pytest.approx(0.0, abs=1.0)
    provenance = json.loads((runs / "t3-conductivity-toy-morse-T600-r1" / "provenance.json").read_text())
    assert provenance["lammps"]["version"] and provenance["potential"]["name"] == "toy-morse"
    assert provenance["seed"] > 0 and provenance["host"] and provenance["wall_s"] >= 0


def test_mpirun_two_ranks_runs_each_run_exactly_once(tmp_path):
    out = _render(tmp_path, SIX)
    result = harness("launch", str(out), "--progress-every", "0", mpi=2)
    assert result.returncode == 0, result.stdout + result.stderr
    states = statuses(out)
    assert len(states) >= 6
    assert all(s["state"] == "done" and s["attempts"] == 1 for s in states.values()), states
    pids = {json.loads((out / "runs" / r / "provenance.json").read_text())["pid"] for r in states}
    assert len(pids) == 2   # both ranks took runs
    started = [line for line in result.stdout.splitlines() if line.endswith(" started")]
    assert len(started) == len(states)


def test_ranks_per_run_drives_one_lammps_over_a_sub_communicator(tmp_path):
    out = _render(tmp_path, TINY.split("[robustness]")[0])
    result = harness("launch", str(out), "--progress-every", "0", "--ranks-per-run", "2", mpi=2)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(s["state"] == "done" for s in statuses(out).values())
    log = (out / "runs" / "t3-conductivity-toy-morse-T600-r1" / "log.lammps").read_text()
    assert "on 2 procs" in log


def test_failures_are_recorded_with_their_reason_while_the_others_finish(tmp_path):
    out = _render(tmp_path)
    _inject(out, "t3-conductivity-toy-morse-T600-r1", "run 10 nonsense_keyword")
    _inject(out, "t3-conductivity-toy-morse-T800-r1", "shell sleep 30")            # hangs: wall-time limit
    _inject(out, "t2-meltquench-toy-morse-npt-r1", "shell sleep 30")               # will be killed by a signal
    _inject(out, "t4-robustness-toy-morse-T1000-p1e6-r1",
            "change_box all boundary f p p\ngroup one id 1\nfix kick one move linear 2000 0 0")
    _inject(out, "t4-robustness-toy-morse-T1000-p1e9-r1",
            "variable huge equal exp(800)\nfix blowup all addforce v_huge 0.0 0.0")
    launcher = subprocess.Popen([sys.executable, "-m", "harness", "launch", str(out), "--progress-every", "0",
                                 "--wall-time", "4", "--kill-grace", "1"], cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    crash_dir = out / "runs" / "t2-meltquench-toy-morse-npt-r1"
    deadline = time.time() + 120
    killed = False
    while launcher.poll() is None and time.time() < deadline:
        status = json.loads((crash_dir / "status.json").read_text())
        if not killed and status.get("state") == "running" and status.get("pid"):
            time.sleep(0.5)
            os.kill(status["pid"], signal.SIGSEGV)
            killed = True
        time.sleep(0.1)
    output = launcher.communicate(timeout=120)[0]
    assert launcher.returncode == 0, output
    states = statuses(out)
    expected = {
        "t3-conductivity-toy-morse-T600-r1": "lammps_error",
        "t3-conductivity-toy-morse-T800-r1": "wall_time",
        "t2-meltquench-toy-morse-npt-r1": "crashed",
        "t4-robustness-toy-morse-T1000-p1e6-r1": "lost_atoms",
        "t4-robustness-toy-morse-T1000-p1e9-r1": "non_finite",
    }
    for run_id, reason in expected.items():
        assert states[run_id]["state"] == "failed" and states[run_id]["reason"] == reason, (run_id, states[run_id])
        assert isinstance(states[run_id]["time_ps"], float)
    assert "nonsense_keyword" in states["t3-conductivity-toy-morse-T600-r1"]["message"]
    assert "SIGSEGV" in states["t2-meltquench-toy-morse-npt-r1"]["message"]
    assert "Lost atoms" in states["t4-robustness-toy-morse-T1000-p1e6-r1"]["message"]
    others = [r for r in states if r not in expected]
    assert others and all(states[r]["state"] == "done" for r in others)
    # failed runs are results: a relaunch does not run them again unless asked
    again = harness("launch", str(out), "--progress-every", "0")
    assert again.returncode == 0 and " started" not in again.stdout


def test_a_non_finite_energy_fails_relax_single_point_and_forces_as_non_finite(tmp_path):
    """The guard of the templates without MD: an infinite energy (an infinite external force whose energy counts)
    ends the run failed with reason non_finite before it writes a result."""
    _write_reference(tmp_path / "ref.extxyz")
    text = TINY.split("[conductivity]")[0] + TINY[TINY.index("[formation]"):] + '\n[forces]\nreference = "ref.extxyz"\n'
    out = _render(tmp_path, text)
    blowup = "variable huge equal exp(800)\nfix blowup all addforce v_huge 0.0 0.0\nfix_modify blowup energy yes"
    runs = {"t1-relax-toy-morse-Li2S": "run", "t1-single-toy-morse-beta-Li3PS4": "run",
            "t2-forces-toy-morse": "rerun"}
    for run_id, before in runs.items():   # after the relaxation, before the energy is taken
        path = out / "runs" / run_id / "in.lammps"
        lines = path.read_text().splitlines()
        index = next(i for i, line in enumerate(lines) if line.split()[:1] == [before])
        path.write_text("\n".join([*lines[:index], blowup, *lines[index:]]) + "\n")
    result = harness("launch", str(out), "--progress-every", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    states = statuses(out)
    for run_id in runs:
        assert states[run_id]["state"] == "failed" and states[run_id]["reason"] == "non_finite", states[run_id]
        assert "Fix halt condition" in states[run_id]["message"]
    assert not (out / "runs" / "t1-relax-toy-morse-Li2S" / "result.json").exists()
    assert not (out / "runs" / "t1-single-toy-morse-beta-Li3PS4" / "result.json").exists()
    energies = (out / "runs" / "t2-forces-toy-morse" / "energies.dat").read_text().splitlines()
    rows = [float(line.split()[1]) for line in energies if not line.startswith("#")]
    assert len(rows) < 2 and all(math.isfinite(e) for e in rows)   # the frame that failed is not written


def test_lammps_timer_stops_a_long_run_at_the_wall_time_limit(tmp_path):
    text = TINY.split("[robustness]")[0].replace("wall_time_s = 300", "wall_time_s = 1").replace(
        "duration_ps = 0.1", "duration_ps = 1000").replace("[600, 800]", "[600]")
    out = _render(tmp_path, text)
    result = harness("launch", str(out), "--progress-every", "0")
    assert result.returncode == 0
    status = statuses(out)["t3-conductivity-toy-morse-T600-r1"]
    assert status["state"] == "failed" and status["reason"] == "wall_time" and "timer" in status["message"]
    assert 0 < status["time_ps"] < 1000


LONG = TINY.split("[robustness]")[0].replace("[600, 800]", "[600, 700, 800]").replace(
    "duration_ps = 0.1", "duration_ps = 3").replace("supercell = [1, 1, 1]", "supercell = [2, 2, 2]").replace(
    "restart_every_ps = 0.02", "restart_every_ps = 0.1").replace("dump_interval_ps = 0.01", "dump_interval_ps = 0.05")


def test_kill_9_of_the_launcher_loses_nothing_and_relaunch_resumes(tmp_path):
    out = _render(tmp_path, LONG)
    launcher = subprocess.Popen([sys.executable, "-m", "harness", "launch", str(out), "--progress-every", "0"],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
    # wait until the first run is done and the second has passed a restart point, then kill -9
    deadline = time.time() + 240
    while time.time() < deadline:
        states = statuses(out)
        done = [r for r, s in states.items() if s["state"] == "done"]
        running = [r for r, s in states.items() if s["state"] == "running"]
        if done and running:
            progress = out / "runs" / running[0] / "progress.dat"
            if progress.is_file() and len(progress.read_text().splitlines()) > 30:
                break
        time.sleep(0.2)
    launcher.send_signal(signal.SIGKILL)
    launcher.wait()
    time.sleep(0.5)
    before = statuses(out)
    finished_before = {r for r, s in before.items() if s["state"] == "done"}
    interrupted = [r for r, s in before.items() if s["state"] == "running"]
    assert finished_before and len(interrupted) == 1
    # the killed launcher's LAMMPS died with it
    pid = before[interrupted[0]]["pid"]
    time.sleep(0.5)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    status_report = harness("status", str(out))
    assert "interrupted" in status_report.stdout

    result = harness("launch", str(out), "--progress-every", "0")
    assert result.returncode == 0, result.stdout
    after = statuses(out)
    assert all(s["state"] == "done" for s in after.values())
    for run_id in finished_before:
        assert after[run_id]["attempts"] == 1           # never executed twice
    resumed = after[interrupted[0]]
    assert resumed["attempts"] == 2 and resumed["resumed_from_step"] > 0
    # the resumed trajectory has each frame once, in order, all the way to the end
    text = (out / "runs" / interrupted[0] / "traj.lammpstrj").read_text().splitlines()
    steps = [int(text[i + 1]) for i, line in enumerate(text) if line == "ITEM: TIMESTEP"]
    assert steps == sorted(set(steps))
    assert steps[-1] == json.loads((out / "runs" / interrupted[0] / "run.json").read_text())["nsteps"]
    assert len(steps) == len(range(steps[0], steps[-1] + 1, 50))
    # and it is bit for bit the trajectory of the same input run by plain LAMMPS without interruption
    run_dir = out / "runs" / interrupted[0]
    reference = tmp_path / "uninterrupted"
    reference.mkdir()
    for name in ("in.lammps", "data.lmp"):
        (reference / name).write_bytes((run_dir / name).read_bytes())
    build = find_lammps()
    subprocess.run([build.executable, "-in", "in.lammps", "-log", "none", "-screen", "none"], cwd=reference,
                   env={**os.environ, "LD_LIBRARY_PATH": ":".join(build.library_dirs)}, check=True, timeout=240)
    for name in ("traj.lammpstrj", "progress.dat"):
        assert (run_dir / name).read_bytes() == (reference / name).read_bytes(), name


def test_truncate_progress_drops_the_lines_the_resumed_segment_writes_again(tmp_path):
    path = tmp_path / "progress.dat"
    header = "# step time_ps T_K pe_eV press_bar vol_A3"
    path.write_text(f"{header}\n0 0 1 1 1 1\n10 0.01 1 1 1 1\n{header}\n10 0.01 1 1 1 1\n20 0.02 1 1 1 1\n30 0.0")
    truncate_progress(path, 10)
    assert path.read_text() == f"{header}\n0 0 1 1 1 1\n10 0.01 1 1 1 1\n"
    path.write_text(f"{header}\n0 0 1 1 1 1\n10 0.01 1 1 1 1\n{header}\n")   # killed as the next segment began
    truncate_progress(path, 10)
    assert path.read_text() == f"{header}\n0 0 1 1 1 1\n10 0.01 1 1 1 1\n"


def test_two_launchers_at_once_never_execute_a_run_twice(tmp_path):
    out = _render(tmp_path, SIX)
    command = [sys.executable, "-m", "harness", "launch", str(out), "--progress-every", "0"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True, env=env)
    second = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True, env=env)
    outputs = [first.communicate(timeout=300)[0], second.communicate(timeout=300)[0]]
    states = statuses(out)
    assert all(s["state"] == "done" and s["attempts"] == 1 for s in states.values()), states
    started = [line for text in outputs for line in text.splitlines() if line.endswith(" started")]
    assert len(started) == len(states)


def test_truncate_dump_cuts_at_the_restart_step(tmp_path):
    dump = tmp_path / "d.lammpstrj"
    frame = "ITEM: TIMESTEP\n{}\nITEM: NUMBER OF ATOMS\n1\nITEM: BOX BOUNDS pp pp pp\n0 1\n0 1\n0 1\nITEM: ATOMS id x\n1 0.5\n"
    dump.write_text("".join(frame.format(s) for s in (0, 10, 20, 30)) + "ITEM: TIMESTEP\n40\nITEM: NUMB")
    truncate_dump(dump, 20)
    assert dump.read_text() == "".join(frame.format(s) for s in (0, 10))


def test_status_command_reports_counts_and_progress(tmp_path):
    out = _render(tmp_path, TINY.split("[robustness]")[0])
    pending = harness("status", str(out))
    assert pending.returncode == 0 and "2 pending" in pending.stdout and "0/110" in pending.stdout
    harness("launch", str(out), "--progress-every", "0")
    done = harness("status", str(out), "--json")
    report = json.loads(done.stdout)
    assert report["counts"]["done"] == 2 and all(r["step"] == r["nsteps"] for r in report["runs"])


def test_without_mpirun_the_launcher_does_not_start_mpi(tmp_path):
    out = _render(tmp_path, TINY.split("[robustness]")[0])
    code = ("import sys; from pathlib import Path; from harness.launch import launch; "
            f"rc = launch(Path({str(out)!r})); print(rc, 'mpi4py.MPI' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(MPI_ENV_PREFIXES)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**env, "PYTHONPATH": str(REPO)})
    assert result.stdout.strip().splitlines()[-1] == "0 False", result.stdout + result.stderr
    assert all(s["state"] == "done" for s in statuses(out).values())
    assert under_mpi_launcher({"PMI_RANK": "1"}) and under_mpi_launcher({"OMPI_COMM_WORLD_SIZE": "4"})
    assert not under_mpi_launcher({"PATH": "/usr/bin"})
