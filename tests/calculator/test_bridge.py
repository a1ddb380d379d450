"""The calculator bridge with cheap ASE calculators: physics against native LAMMPS, the runner's guarantees, the
launcher's containment of model faults, byte-identical resume, and bad input."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from calc_testlib import HERE, LJ_KWARGS, campaign_text, env, harness, write_potential
from harness.check_record import check_record_path
from harness.errors import HarnessError
from harness.lammps_env import find_lammps
from harness.potentials import load_potential
from harness.render import render_campaign
from harness_testlib import REPO, statuses, write_campaign

BOX = """units metal
atom_style atomic
boundary p p p
atom_modify map array
lattice fcc 5.26
region box prism 0 3 0 3 0 3 0.3 0.2 0.1
create_box 1 box
create_atoms 1 box
mass 1 39.948
displace_atoms all random 0.1 0.1 0.1 1234
velocity all create 100 4321
"""
SEGMENTS = """write_restart r.bin
label again
clear
read_restart r.bin
{model}fix npt all npt temp 100 100 0.1 tri 0 0 1.0
fix out all print 10 "$(step) $(pe:%.15g) $(press:%.15g) $(pxy:%.15g) $(vol:%.15g)" append out.dat screen no
run 40
write_restart r.bin
if "$(step) >= 120" then "jump SELF done"
jump SELF again
label done
"""


def _lmp(folder: Path, name: str) -> subprocess.CompletedProcess:
    build = find_lammps()
    return subprocess.run([build.executable, "-in", name, "-log", "none"], cwd=folder, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "LD_LIBRARY_PATH": ":".join(build.library_dirs)})


def _runner(folder: Path, config: dict, text: str) -> subprocess.CompletedProcess:
    (folder / "runner.py").write_text((REPO / "harness" / "calculator_runner.py").read_text())
    (folder / "calculator.json").write_text(json.dumps(config))
    (folder / "in.lammps").write_text(text)
    return subprocess.run([sys.executable, "runner.py"], cwd=folder, capture_output=True, text=True, timeout=120,
                          env=env())


ARGON = {"import": "ase.calculators.lj:LennardJones", "elements": ["Ar"], "device": "cpu",
         "kwargs": {"sigma": 3.4, "epsilon": 0.0104, "rc": 8.5, "smooth": False}}
MODEL_LINES = "fix harness_mlip all external pf/callback 1 1\nfix_modify harness_mlip energy yes virial yes\n"


def test_npt_through_the_bridge_is_native_lj_cut_across_segments(tmp_path):
    """ASE's Lennard-Jones driven through fix external is LAMMPS's own lj/cut (shifted at the cutoff, as ASE's is):
    energy, pressure and cell agree to round-off over 120 NPT steps in a triclinic box, in three segments that
    each start with `clear`, so the callback had to be attached again every time."""
    native, bridge = tmp_path / "native", tmp_path / "bridge"
    native.mkdir(), bridge.mkdir()
    lj_cut = "pair_style lj/cut 8.5\npair_coeff 1 1 0.0104 3.4\npair_modify shift yes\n"
    (native / "in.native").write_text(BOX + lj_cut + SEGMENTS.format(model=lj_cut))
    assert _lmp(native, "in.native").returncode == 0
    result = _runner(bridge, ARGON, BOX + MODEL_LINES + SEGMENTS.format(model=MODEL_LINES))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    rows_native = [list(map(float, l.split())) for l in (native / "out.dat").read_text().splitlines() if l[0] != "#"]
    rows_bridge = [list(map(float, l.split())) for l in (bridge / "out.dat").read_text().splitlines() if l[0] != "#"]
    assert len(rows_native) == len(rows_bridge) >= 12
    for a, b in zip(rows_native, rows_bridge):
        assert a[0] == b[0]
        for x, y in zip(a[1:], b[1:]):
            assert abs(x - y) <= 1e-8 * max(1.0, abs(x)), (a, b)
    assert rows_native[-1][4] != rows_native[0][4]   # the barostat moved the cell: NPT saw the model's pressure


HOT_ARGON = BOX.replace("atom_modify map array", "atom_modify map array sort 5 1.0").replace(
    "velocity all create 100 4321", "velocity all create 600 4321")
TRAJECTORY = """fix nve all nve
dump d all custom 1 d.txt id x y z xu yu zu
dump_modify d sort id format float %.17g
thermo_style custom step pe
thermo_modify format float %.15g
thermo 10
run 300
"""


def test_the_calculator_sees_the_continuous_trajectory_in_id_order(tmp_path):
    """The bridge hands the calculator what ASE's own MD would: atoms in id order and unwrapped positions, although
    LAMMPS re-sorts its atoms every 5 steps here and wraps those that leave the box. Hot argon, 300 NVE steps: the
    positions the calculator saw are LAMMPS's unwrapped ones (xu - boxlo, ordered by id), some atoms did cross the
    box, and the energies match native lj/cut step by step (forces went back to the right atoms)."""
    native, bridge = tmp_path / "native", tmp_path / "bridge"
    native.mkdir(), bridge.mkdir()
    lj_cut = "pair_style lj/cut 8.5\npair_coeff 1 1 0.0104 3.4\npair_modify shift yes\n"
    (native / "in.native").write_text(HOT_ARGON + lj_cut + TRAJECTORY)
    native_result = _lmp(native, "in.native")
    assert native_result.returncode == 0, native_result.stdout[-2000:]
    recorder = {**ARGON, "import": "toy_calculators:RecordsPositions",
                "kwargs": {**ARGON["kwargs"], "path": str(bridge / "seen.txt")}}
    result = _runner(bridge, recorder, HOT_ARGON + MODEL_LINES + TRAJECTORY)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]

    def energies(screen: str) -> list[float]:
        return [float(line.split()[1]) for line in screen.splitlines()
                if re.match(r"^\s*\d+\s+-?\d[\d.e+-]*\s*$", line)]
    native_pe, bridge_pe = energies(native_result.stdout), energies(result.stdout)
    assert len(native_pe) == len(bridge_pe) == 31
    assert all(abs(a - b) <= 1e-8 * max(1.0, abs(a)) for a, b in zip(native_pe, bridge_pe)), (native_pe, bridge_pe)

    frames, rows, reading = [], [], False
    for line in (bridge / "d.txt").read_text().splitlines():
        if line.startswith("ITEM:"):
            if rows:
                frames.append(np.array(rows))
            rows, reading = [], line.startswith("ITEM: ATOMS")
        elif reading:
            rows.append([float(v) for v in line.split()[1:]])
    frames.append(np.array(rows))
    boxlo = 0.0   # region prism 0 3 ...: the box starts at the origin
    seen = np.loadtxt(bridge / "seen.txt").reshape(-1, 108, 3)
    assert len(seen) == len(frames) == 301            # one evaluation per step and one at the start
    for step, (frame, positions) in enumerate(zip(frames, seen)):
        assert np.allclose(positions, frame[:, 3:] - boxlo, atol=1e-9), f"step {step}"
    crossed = np.abs(frames[-1][:, 3:] - frames[-1][:, :3]).max()
    assert crossed > 1.0                              # at least one atom was wrapped back into the box by LAMMPS


def test_plain_lammps_refuses_a_calculator_run(tmp_path):
    write_potential(tmp_path)
    out = tmp_path / "out"
    render_campaign(write_campaign(tmp_path, campaign_text(tasks="conductivity")), out)
    run_dir = next((out / "runs").iterdir())
    result = _lmp(run_dir, "in.lammps")
    assert result.returncode != 0
    assert "ERROR: potential lj is a Python calculator" in result.stdout and "runner.py" in result.stdout
    assert not (run_dir / "progress.dat").exists() and not list(run_dir.glob("restart.*"))


@pytest.mark.parametrize("change, message", [
    ("unfix harness_mlip\n", "without the model fix"),
    ("fix other all external pf/callback 1 1\n", "not the model fix"),
    ('if "1 > 0" then "unfix harness_mlip" "fix harness_mlip all external pf/callback 1 1" "run 5"\n',
     "inside an if"),
    ('if "1 > 0" then "jump SELF elsewhere" else "print no"\n', "follows `jump SELF label`"),
])
def test_a_model_fix_without_its_callback_never_runs(tmp_path, change, message):
    """The pitfall: LAMMPS runs a pf/callback fix without a callback silently with zero forces. The runner refuses
    every way to get there: no model fix at a run, a second external fix, a fix remade inside an if."""
    text = BOX + MODEL_LINES + change + "run 10\n"
    result = _runner(tmp_path, ARGON, text)
    assert result.returncode == 1
    assert message in result.stdout.splitlines()[-1] and result.stdout.splitlines()[-1].startswith("ERROR: ")


def test_a_template_with_its_own_fix_external_is_refused_at_render(tmp_path):
    write_potential(tmp_path)
    templates = tmp_path / "templates"
    templates.mkdir()
    original = (REPO / "templates" / "single_point.lammps.j2").read_text()
    (templates / "single_point.lammps.j2").write_text(original.replace("run             0",
                                                                       "fix mine all external pf/callback 1 1\nrun 0"))
    text = campaign_text(tasks="formation").replace('[campaign]\n', '[campaign]\ntemplates = "templates"\n')
    with pytest.raises(HarnessError, match="fix mine is a fix external"):
        render_campaign(write_campaign(tmp_path, text), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_launch_refuses_an_unchecked_calculator_then_runs_every_task_after_the_check(tmp_path):
    write_potential(tmp_path)
    out = tmp_path / "out"
    render_campaign(write_campaign(tmp_path, campaign_text()), out)
    refused = harness("launch", str(out), "--progress-every", "0")
    assert refused.returncode == 2 and "refusing potential lj: its check never ran" in refused.stderr
    assert all(s["state"] == "pending" for s in statuses(out).values())
    check = harness("potentials", "check", str(tmp_path / "potentials" / "lj.toml"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check_record_path(tmp_path / "potentials" / "lj.toml").read_text())["passed"]
    result = harness("launch", str(out), "--progress-every", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    states = statuses(out)
    assert states and all(s["state"] == "done" for s in states.values()), states
    # the model really acted: NPT runs changed volume, the relaxation lowered the energy of Li2S
    robust = next(out.glob("runs/t4-robustness-*/progress.dat")).read_text().splitlines()
    volumes = [float(l.split()[5]) for l in robust if l[0] != "#"]
    assert max(volumes) > min(volumes)
    # hand-run: the same runner in the folder reproduces the launcher's single point
    single = next(out.glob("runs/t1-single-*"))
    first = json.loads((single / "result.json").read_text())
    (single / "result.json").unlink()
    by_hand = subprocess.run([sys.executable, "runner.py"], cwd=single, env=env(), capture_output=True, text=True,
                             timeout=120)
    assert by_hand.returncode == 0 and json.loads((single / "result.json").read_text()) == first


def test_the_check_compares_with_ase_and_the_pressure_with_minus_dE_dV(tmp_path):
    record_lines = harness("potentials", "check", str(write_potential(tmp_path)))
    assert record_lines.returncode == 0, record_lines.stderr
    record = json.loads(check_record_path(tmp_path / "potentials" / "lj.toml").read_text())
    for cell in record["cells"]:
        assert cell["de_ev_per_atom"] <= 1e-6 and cell["df_ev_per_a"] <= 1e-5 and cell["dstress_gpa"] <= 1e-4
        assert abs(cell["pressure_bar"] - cell["pressure_fd_bar"]) <= 1e-3 * abs(cell["pressure_fd_bar"]) + 1.0
    assert any(c["pressure_bar"] > 1000 for c in record["cells"]) and any(c["pressure_bar"] < -1000
                                                                          for c in record["cells"])


def test_a_wrong_virial_sign_fails_the_check(tmp_path, monkeypatch):
    """The check can fail: a runner that hands LAMMPS +stress*V instead of -stress*V is caught."""
    import harness.calculator as calculator
    wrong = calculator.runner_text().replace("(-s * volume for s in stress)", "(s * volume for s in stress)")
    monkeypatch.setattr(calculator, "runner_text", lambda: wrong)
    from harness.calculator_check import check_calculator_potential
    with pytest.raises(HarnessError, match="stress differs|pressure"):
        check_calculator_potential(load_potential(str(write_potential(tmp_path))))


# ------------------------------------------------------------------------------------------ faults at run time

@pytest.mark.parametrize("fault, reason, text", [
    ("raise", "calculator_error", "raised ValueError: model diverged"),
    ("nan", "non_finite", "non-finite forces"),
    ("segfault", "crashed", "SIGSEGV"),
    ("hang", "wall_time", "wall-time limit"),
])
def test_a_failing_model_ends_its_run_failed_and_the_campaign_goes_on(tmp_path, fault, reason, text):
    write_potential(tmp_path, "bad", "toy_calculators:FaultAtCall", LJ_KWARGS + f'fault = "{fault}"\nat = 30\n')
    write_potential(tmp_path, "lj")
    out = tmp_path / "out"
    render_campaign(write_campaign(tmp_path, campaign_text("bad", "conductivity").replace(
        'potentials = ["bad"]', 'potentials = ["bad", "lj"]')), out)
    result = harness("launch", str(out), "--progress-every", "0", "--force-unchecked", "--wall-time", "20",
                     "--kill-grace", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    states = statuses(out)
    for run_id, status in states.items():
        if "-bad-" in run_id:
            assert status["state"] == "failed" and status["reason"] == reason, status
            assert text in status["message"], status
        else:
            assert status["state"] == "done", status


@pytest.mark.parametrize("potential, where, message", [
    (dict(target="no_such_module.calculators:Model"), "render", "calculator.import: module 'no_such_module.calculators' not found"),
    (dict(target="ase.calculators.lj"), "render", "calculator.import: must look like module.path:Name"),
    (dict(extra='[files.model]\npath = "weights.bin"\nsha256 = "0000000000000000000000000000000000000000000000000000000000000000"\n'), "render", "sha256 of"),
    (dict(target="toy_calculators:RaisesWhenBuilt"), "check", "building it raised RuntimeError: weights file is corrupt"),
    (dict(target="toy_calculators:OnlyElements", kwargs=LJ_KWARGS + 'known = ["Li", "S"]\n'), "check",
     "KeyError: 'model has no parameters for element P' on only-P"),
    (dict(target="toy_calculators:FaultAtCall", kwargs=LJ_KWARGS + 'fault = "nan"\nat = 1\n'), "check",
     "non-finite forces"),
    (dict(calculator_extra='devices = "gpu"\n'), "render", "calculator.devices: unknown field"),
    (dict(calculator_extra='python = "no-such-env"\n'), "render", "calculator environment 'no-such-env' does not exist"),
    (dict(calculator_extra='stress = false\n'), "render", "calculator.stress = false, but template relax"),
])
def test_bad_calculator_input_is_one_line_and_nothing_is_written(tmp_path, potential, where, message):
    path = write_potential(tmp_path, **potential)
    (tmp_path / "potentials" / "weights.bin").write_bytes(b"weights")
    if where == "render":
        result = harness("render", str(write_campaign(tmp_path, campaign_text(tasks="formation"))), "--out",
                         str(tmp_path / "out"))
        assert not (tmp_path / "out").exists()
    else:
        result = harness("potentials", "check", str(path))
        assert not json.loads(check_record_path(path).read_text())["passed"]
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


# ------------------------------------------------------------------------------------------ resume

LONG = campaign_text(tasks="conductivity").replace("duration_ps = 0.1", "duration_ps = 1.0").replace(
    "[600, 800]", "[600]").replace("restart_every_ps = 0.02", "restart_every_ps = 0.1")


def test_kill_9_and_relaunch_of_a_calculator_run_is_byte_identical(tmp_path):
    write_potential(tmp_path)
    out = tmp_path / "out"
    render_campaign(write_campaign(tmp_path, LONG), out)
    run_dir = next((out / "runs").iterdir())
    launcher = subprocess.Popen([sys.executable, "-m", "harness", "launch", str(out), "--progress-every", "0",
                                 "--force-unchecked"], cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env())
    deadline = time.time() + 240
    while time.time() < deadline:
        progress = run_dir / "progress.dat"
        if list(run_dir.glob("restart.*.bin")) and progress.is_file() and len(progress.read_text().splitlines()) > 40:
            break
        time.sleep(0.1)
    launcher.send_signal(signal.SIGKILL)
    launcher.wait()
    time.sleep(0.5)
    assert statuses(out)[run_dir.name]["state"] == "running"
    result = harness("launch", str(out), "--progress-every", "0", "--force-unchecked")
    assert result.returncode == 0, result.stdout + result.stderr
    status = statuses(out)[run_dir.name]
    assert status["state"] == "done" and status["attempts"] == 2 and status["resumed_from_step"] > 0
    reference = tmp_path / "uninterrupted"
    reference.mkdir()
    for name in ("in.lammps", "data.lmp", "runner.py", "calculator.json"):
        (reference / name).write_bytes((run_dir / name).read_bytes())
    subprocess.run([sys.executable, "runner.py"], cwd=reference, env=env(), check=True, timeout=240,
                   capture_output=True)
    for name in ("traj.lammpstrj", "progress.dat"):
        assert (run_dir / name).read_bytes() == (reference / name).read_bytes(), name


def test_a_calculator_built_from_other_objects_is_still_data(tmp_path):
    """A keyword-argument table with its own `import` is built first (a model object that a calculator wraps):
    ASE's SumCalculator over two half-strength Lennard-Jones calculators is the full-strength one."""
    half = LJ_KWARGS.replace("epsilon = 0.02", "epsilon = 0.01").replace("\n", ", ").rstrip(", ")
    kwargs = f'calcs = [{{import = "ase.calculators.lj:LennardJones", {half}}}, ' \
             f'{{import = "ase.calculators.lj:LennardJones", {half}}}]\n'
    summed = write_potential(tmp_path, "summed", "ase.calculators.mixing:SumCalculator", kwargs)
    full = write_potential(tmp_path, "lj")
    for path in (summed, full):
        assert harness("potentials", "check", str(path)).returncode == 0
    cells_summed = json.loads(check_record_path(summed).read_text())["cells"]
    cells_full = json.loads(check_record_path(full).read_text())["cells"]
    for a, b in zip(cells_summed, cells_full):
        assert a["pressure_bar"] == pytest.approx(b["pressure_bar"], rel=1e-12)


def test_device_binding_gives_each_launcher_group_one_gpu():
    from harness.devices import device_environment
    manifest = {"potentials": {"m": {"kind": "calculator", "calculator": {"device": "auto"}},
                               "c": {"kind": "calculator", "calculator": {"device": "cpu"}},
                               "snap": {"packages": ["ML-SNAP"]}}}
    assert [device_environment(manifest, "m", ["0", "1"], g) for g in range(3)] == [
        {"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "1"}, {"CUDA_VISIBLE_DEVICES": "0"}]
    assert device_environment(manifest, "c", ["0", "1"], 0) == {"CUDA_VISIBLE_DEVICES": ""}
    assert device_environment(manifest, "m", [], 0) == {} and device_environment(manifest, "snap", ["0"], 0) == {}


def test_plan_calibrates_a_calculator_potential_through_its_runner(tmp_path):
    """A model of known cost: LJ that sleeps 5 ms per evaluation. `harness plan` times MD through the runner (plain
    `lmp` cannot run a calculator potential), so the measured speed is at most natoms / 5 ms and not far below."""
    seconds = 0.005
    write_potential(tmp_path, name="slow", target="toy_calculators:SleepsPerCall",
                    kwargs=f"seconds = {seconds}\n{LJ_KWARGS}")
    out = tmp_path / "out"
    render_campaign(write_campaign(tmp_path, campaign_text("slow", "conductivity")), out)
    plan_json = tmp_path / "plan.json"
    result = harness("plan", str(out), "--ranks", "1", "--json", str(plan_json))
    assert result.returncode == 0, result.stdout + result.stderr
    speed = json.loads(plan_json.read_text())["speeds"]["slow"]
    assert speed["source"] == "calibrated"
    limit = speed["natoms"] / seconds      # atom-steps/s if the model's sleep were the only cost
    assert 0.3 * limit < speed["atom_steps_per_s"] <= limit, (speed, limit)
