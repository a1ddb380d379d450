"""Every task end to end on real LAMMPS output: render -> launch -> analyze -> report, with the toy potential at
tiny sizes. The result tables are checked against what the raw run files say, computed here independently."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from ase.io import read as ase_read

from harness_testlib import REPO, TINY, harness, statuses, write_campaign

# An invented P2S5 (7 atoms, not the real crystal): with it both end points of eq. (1) exist for the relax protocol.
P2S5_CIF = """data_P2S5
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   7.0
_cell_length_b   7.0
_cell_length_c   7.0
_cell_angle_alpha   90.0
_cell_angle_beta   90.0
_cell_angle_gamma   90.0
_symmetry_Int_Tables_number   1
loop_
 _symmetry_equiv_pos_site_id
 _symmetry_equiv_pos_as_xyz
  1  'x, y, z'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  P  P1  0.20  0.20  0.20  1
  P  P2  0.70  0.70  0.70  1
  S  S1  0.20  0.20  0.50  1
  S  S2  0.50  0.20  0.20  1
  S  S3  0.70  0.70  0.40  1
  S  S4  0.40  0.70  0.70  1
  S  S5  0.45  0.45  0.45  1
"""

TEMPERATURES = (400.0, 1400.0)
CAMPAIGN = (TINY.replace("[600, 800]", "[400, 1400]")
            .replace("duration_ps = 0.1\n", "duration_ps = 2.0\n", 1)
            .replace("[melt_quench]\nsupercell = [1, 1, 1]", "[melt_quench]\nsupercell = [2, 1, 1]")
            .replace("[robustness]\nnatoms = 42", "[robustness]\nnatoms = 42\nrelax_max_iterations = 50")
            .replace("pressures_Pa = [1e6, \"1 GPa\"]\nduration_ps = 0.05\nrepeats = 1",
                     "pressures_Pa = [1e6, \"1 GPa\"]\nduration_ps = 0.05\nrepeats = 2")
            .replace('structures = ["Li2S"]', 'structures = ["Li2S", "P2S5", "Li7P3S11"]')
            + '\n[forces]\nreference = "ref.extxyz"\n')
REFERENCE = REPO / "inputs" / "reference" / "li7p3s11_meltquench_chgnet.extxyz"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _frames(path: Path, columns: tuple[str, ...]) -> list[tuple[int, np.ndarray]]:
    """(timestep, values sorted by atom id) of every frame of a LAMMPS text dump: a plain reader for the checks."""
    return [(step, values) for step, _, values in _frames_and_boxes(path, columns)]


def _frames_and_boxes(path: Path, columns: tuple[str, ...]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(timestep, box lengths of an orthogonal box, values sorted by atom id) of every frame."""
    lines = path.read_text().splitlines()
    frames, i = [], 0
    while i < len(lines):
        assert lines[i] == "ITEM: TIMESTEP"
        step, natoms = int(lines[i + 1]), int(lines[i + 3])
        header = lines[i + 8].split()[2:]
        table = [line.split() for line in lines[i + 9:i + 9 + natoms]]
        ids = np.array([int(row[header.index("id")]) for row in table])
        values = np.array([[float(row[header.index(c)]) for c in columns] for row in table])[np.argsort(ids)]
        lengths = np.array([float(b) - float(a) for a, b in (line.split()[:2] for line in lines[i + 5:i + 8])])
        frames.append((step, lengths, values))
        i += 9 + natoms
    return frames


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("every-task")
    (folder / "structures").mkdir()
    (folder / "structures" / "P2S5.cif").write_text(P2S5_CIF)
    (folder / "ref.extxyz").write_bytes(REFERENCE.read_bytes())
    out = folder / "out"
    for step in (["render", str(write_campaign(folder, CAMPAIGN)), "--out", str(out)],
                 ["launch", str(out), "--progress-every", "0"], ["analyze", str(out)], ["report", str(out)]):
        result = harness(*step, mpi=2 if step[0] == "launch" else 0)
        assert result.returncode == 0, (step, result.stdout, result.stderr)
    return out


def test_every_run_finished(campaign):
    states = statuses(campaign)
    assert len(states) == 2 + 2 * 2 + 1 + 1 + 3 + 1 and {s["state"] for s in states.values()} == {"done"}, states


def test_conductivity_from_the_real_trajectories(campaign):
    runs = {float(r["temperature_K"]): r for r in _rows(campaign / "results" / "conductivity_runs.csv")}
    assert sorted(runs) == list(TEMPERATURES)
    for temperature, row in runs.items():
        run_dir = campaign / "runs" / row["run_id"]
        frames = _frames(run_dir / "traj.lammpstrj", ("xu", "yu", "zu"))
        assert int(row["nframes"]) == len(frames) == 201 and int(row["n_li"]) == 14
        # the Li mean squared displacement (single origin, computed here) grows with time
        li = np.array([values[:14] for _, values in frames])
        msd = ((li - li[0]) ** 2).sum(axis=2).mean(axis=1)
        assert msd[-1] > msd[20] > 0
        d = float(row["d_cm2_per_s"])
        assert math.isfinite(d) and d > 0 and row["used_in_fit"] == "true"
        # Nernst-Einstein by hand from the run's own D, Li count and cell volume
        volume = float(row["volume_A3"])
        sigma = 14 / (volume * 1e-30) * 1.602176634e-19 ** 2 * d * 1e-4 / (1.380649e-23 * temperature) * 10
        assert float(row["sigma_mS_per_cm"]) == pytest.approx(sigma, rel=1e-4)
    assert float(runs[1400.0]["d_cm2_per_s"]) > float(runs[400.0]["d_cm2_per_s"])
    fit = [r for r in _rows(campaign / "results" / "conductivity.csv") if r["kind"] == "arrhenius_298K"]
    assert len(fit) == 1 and float(fit[0]["ea_eV"]) > 0 and fit[0]["n_temperatures"] == "2"
    jumps = _rows(campaign / "results" / "li_jumps.csv")
    assert len(jumps) == 2 and all(int(r["n_li"]) == 14 and int(r["nframes"]) == 201 for r in jumps)


def test_robustness_from_the_real_trajectories(campaign):
    rows = _rows(campaign / "results" / "robustness.csv")
    assert sorted(float(r["pressure_Pa"]) for r in rows) == [1e6, 1e9]
    for row in rows:
        assert (row["n_repeats"], row["n_survived"], row["survival"]) == ("2", "2", "all")
        assert row["n_frames"] == "10"   # 5 MD frames (0.01 .. 0.05 ps every 0.01 ps; t = 0 is not one) x 2 repeats
        label = "1e6" if float(row["pressure_Pa"]) == 1e6 else "1e9"
        run_dirs = [campaign / "runs" / f"t4-robustness-toy-morse-T1000-p{label}-r{k}" for k in (1, 2)]
        # the smallest distance, by brute force over minimum images of the orthogonal random cell
        smallest = math.inf
        for run_dir in run_dirs:
            assert "ITEM: BOX BOUNDS pp pp pp" in (run_dir / "traj.lammpstrj").read_text()   # orthogonal
            for step, lengths, xyz in _frames_and_boxes(run_dir / "traj.lammpstrj", ("x", "y", "z")):
                if step == 0:
                    continue   # the relaxed structure at t = 0 is not an MD frame (paper: frames along the MD)
                delta = xyz[:, None, :] - xyz[None, :, :]
                delta -= lengths * np.round(delta / lengths)
                distances = np.sqrt((delta ** 2).sum(axis=2))[np.triu_indices(len(xyz), 1)]
                smallest = min(smallest, float(distances.min()))
        assert float(row["min_distance_A"]) == pytest.approx(smallest, abs=1e-5)
        assert float(row["close_contact_percent"]) == 0.0 and smallest > 1.0


def test_melt_quench_follows_the_protocol(campaign):
    rows = _rows(campaign / "results" / "melt_quench.csv")
    progress = (campaign / "runs" / "t2-meltquench-toy-morse-npt-r1" / "traj.lammpstrj").read_text()
    assert len(rows) == progress.count("ITEM: TIMESTEP") == 5            # 0 .. 0.22 ps every 0.05 ps
    targets = [float(r["T_target_K"]) for r in rows]
    assert targets[0] == pytest.approx(300.0) and max(targets) == pytest.approx(900.0, abs=1.0)
    assert [r["phase"] for r in rows][0] == "heat" and rows[-1]["phase"] == "quench"
    mass_g_per_mol = 28 * 6.94 + 12 * 30.973762 + 44 * 32.06      # Li28 P12 S44 (the 2x1x1 Li7P3S11 cell)
    for row in rows:
        assert 0 <= float(row["p_s4_fraction"]) <= 1 and int(row["n_P"]) == 12
        density = mass_g_per_mol / 6.02214076e23 / (float(row["volume_A3"]) * 1e-24)
        assert float(row["density_g_cm3"]) == pytest.approx(density, rel=1e-4)
        assert math.isfinite(float(row["pe_eV"]))
    assert rows[0]["p_s4_fraction"] == "1"      # the crystal starts as isolated PS4 tetrahedra


def test_forces_against_the_reference_file(campaign):
    reference = ase_read(REFERENCE, index=":")
    run_dir = campaign / "runs" / "t2-forces-toy-morse"
    predicted = _frames(run_dir / "forces.lammpstrj", ("fx", "fy", "fz"))
    assert len(predicted) == len(reference) == 20
    squared = [((f - atoms.get_forces()) ** 2).mean() for (_, f), atoms in zip(predicted, reference)]
    (row,) = _rows(campaign / "results" / "forces.csv")
    assert row["nframes"] == "20"
    assert float(row["force_rmse_eV_per_A"]) == pytest.approx(math.sqrt(np.mean(squared)), rel=1e-5)
    frames = _rows(campaign / "results" / "forces_frames.csv")
    assert [float(r["force_rmse_eV_per_A"]) for r in frames] == pytest.approx(np.sqrt(squared), rel=1e-5)
    assert [float(r["temperature_K"]) for r in frames] == pytest.approx(
        [atoms.info["temperature_K"] for atoms in reference], abs=0.05)


def test_formation_energies_by_equation_one(campaign):
    rows = {(r["protocol"], r["structure"]): r for r in _rows(campaign / "results" / "formation.csv")}
    energy = {name: json.loads((campaign / "runs" / f"t1-relax-toy-morse-{name}" / "result.json").read_text())
              for name in ("Li2S", "P2S5", "Li7P3S11")}
    li2s = energy["Li2S"]["energy_eV"] / energy["Li2S"]["natoms"]
    p2s5 = energy["P2S5"]["energy_eV"] / energy["P2S5"]["natoms"]
    # Li7P3S11 = 3.5 Li2S + 1.5 P2S5 (21 atoms): E_f = (E - 10.5 e_Li2S - 10.5 e_P2S5) / N, per atom
    e_f = (energy["Li7P3S11"]["energy_eV"] * 21 / 42 - 10.5 * li2s - 10.5 * p2s5) / 21 * 1000
    assert float(rows[("relax", "Li7P3S11")]["E_f_meV_per_atom"]) == pytest.approx(e_f, abs=1e-3)
    for end_point in ("Li2S", "P2S5"):   # the end points define the zero: left blank, or 0 by eq. (1)
        assert rows[("relax", end_point)]["E_f_meV_per_atom"] in ("", "0")
    # single points have no end points of their own: no E_f, the raw energy is still there
    single = rows[("single_point", "beta-Li3PS4")]
    assert single["E_f_meV_per_atom"] == "" and float(single["energy_eV"]) < 0


def test_report_shows_every_task(campaign):
    text = (campaign / "report" / "index.html").read_text()
    for name in ("arrhenius.png", "robustness.png", "forces.png", "formation.png"):
        assert (campaign / "report" / name).stat().st_size > 1000 and name in text
    assert "toy-morse" in text
