"""CHGNet 0.3.0 (potentials/chgnet.toml, weights inside the chgnet wheel) through the calculator bridge: the check
against ASE and -dE/dV, NVT and NPT through LAMMPS, and Task 2 on reference labels that ARE CHGNet 0.3.0."""

import importlib.util
import json
import os
import shutil

import pytest

from calc_testlib import campaign_text, harness
from harness.calculator_check import check_calculator_potential
from harness.potentials import load_potential
from harness.render import render_campaign
from harness_testlib import REPO, statuses, write_campaign

if importlib.util.find_spec("chgnet") is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("tests/calculator: chgnet missing in CI (scripts/test.sh installs requirements-chgnet.txt)")
    pytest.skip("chgnet not installed (pip install -r requirements-chgnet.txt)", allow_module_level=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A folder with potentials/chgnet.toml (the shipped file), checked."""
    folder = tmp_path_factory.mktemp("chgnet")
    (folder / "potentials").mkdir()
    shutil.copy(REPO / "potentials" / "chgnet.toml", folder / "potentials" / "chgnet.toml")
    report = check_calculator_potential(load_potential(str(folder / "potentials" / "chgnet.toml")))
    assert report[-1].startswith("check recorded")
    return folder


def test_check_parity_with_ase_and_pressure_sign(project):
    record = json.loads((project / "potentials" / "chgnet.check.json").read_text())
    assert record["passed"], record["reason"]
    for cell in record["cells"]:
        assert cell["de_ev_per_atom"] <= 1e-6 and cell["df_ev_per_a"] <= 1e-5 and cell["dstress_gpa"] <= 1e-4
        # the pressure LAMMPS reports is -dE/dV of the model (sign and size)
        assert (cell["pressure_bar"] > 0) == (cell["pressure_fd_bar"] > 0)
        assert abs(cell["pressure_bar"] - cell["pressure_fd_bar"]) <= 0.05 * abs(cell["pressure_fd_bar"]) + 50
    dense = next(c for c in record["cells"] if c["name"].startswith("dense"))
    assert dense["pressure_bar"] > 1e4   # a compressed random cell pushes outwards


def test_nvt_and_npt_a_few_steps_through_lammps(project):
    text = campaign_text("chgnet", "conductivity robustness")
    text = text.replace("[600, 800]", "[600]").replace("duration_ps = 0.1", "duration_ps = 0.03").replace(
        'pressures_Pa = [1e6, "1 GPa"]', 'pressures_Pa = ["1 GPa"]\nrelax = false').replace(
        "duration_ps = 0.05", "duration_ps = 0.03")
    out = project / "md"
    render_campaign(write_campaign(project, text, "md.toml"), out)
    result = harness("launch", str(out), "--progress-every", "0", timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    states = statuses(out)
    assert len(states) == 2 and all(s["state"] == "done" for s in states.values()), states
    for run in out.glob("runs/*"):
        rows = [l.split() for l in (run / "progress.dat").read_text().splitlines() if l[0] != "#"]
        energies = [float(r[3]) for r in rows]
        assert -5.0 < energies[-1] / 42 < -3.0   # CHGNet's energy of Li7P3S11, about -4 eV/atom
        if "robustness" in run.name:
            volumes = [float(r[5]) for r in rows]
            assert volumes[-1] != volumes[0]     # the barostat acts on CHGNet's pressure


def test_task2_forces_on_chgnet_labels_are_numerical_noise(project):
    from analysis.forces import force_errors_from_files
    lines = (REPO / "inputs" / "reference" / "li7p3s11_meltquench_chgnet.extxyz").read_text().splitlines()
    natoms = int(lines[0])
    subset = lines[: 4 * (natoms + 2)]   # the first four frames
    (project / "ref.extxyz").write_text("\n".join(subset) + "\n")
    text = campaign_text("chgnet", "campaign") + '\n[forces]\nreference = "ref.extxyz"\n'
    out = project / "forces"
    render_campaign(write_campaign(project, text, "forces.toml"), out)
    result = harness("launch", str(out), "--progress-every", "0", timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    run = next(out.glob("runs/t2-forces-*"))
    errors = force_errors_from_files(run / "reference.extxyz", run / "forces.lammpstrj", run / "energies.dat")
    assert errors.nframes == 4
    print(f"Task 2, CHGNet through LAMMPS vs CHGNet labels: force RMSE {errors.force_rmse_eV_per_A:.2e} eV/A, "
          f"raw energy RMSE {errors.energy_rmse_raw_meV_per_atom:.2e} meV/atom")
    assert errors.force_rmse_eV_per_A < 1e-4, errors.force_rmse_eV_per_A
    assert errors.energy_rmse_raw_meV_per_atom < 1e-2
