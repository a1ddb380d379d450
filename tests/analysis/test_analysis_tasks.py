"""Known answers for contacts, Arrhenius, Nernst–Einstein, eq. (1) and force errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from analysis import arrhenius, formation
from analysis.contacts import count_close_pairs, frame_contacts, minimum_distance_A
from analysis.dump import Box
from analysis.errors import AnalysisError
from analysis.forces import force_errors_from_files
from analysis.contacts import FrameContacts
from analysis.robustness import RobustnessRun, group_conditions, md_frame_counts, read_relax_record
from analysis_testdata import TRICLINIC, box_header, frame_text

BOX = Box(matrix=TRICLINIC, origin=np.array([0.5, -1.0, 2.0]), triclinic=True)


def _grid_atoms() -> np.ndarray:
    """Atoms on a coarse grid of fractional coordinates, all pairs far apart (> 2 Å)."""
    fractions = np.array(list(itertools.product([0.25, 0.5, 0.75], repeat=3)))
    return BOX.to_cartesian(fractions)


def _planted(distance_A: float) -> np.ndarray:
    """Grid + a pair across the x-boundary of the triclinic cell at exactly ``distance_A`` (minimum image)."""
    a = BOX.to_cartesian(np.array([0.002, 0.1, 0.1]))
    direction = np.array([-1.0, 0.3, 0.2])
    b_unwrapped = a + distance_A * direction / np.linalg.norm(direction)
    fractional = BOX.to_fractional(b_unwrapped)
    assert fractional[0] < 0  # b really is on the other side of the boundary
    b = BOX.to_cartesian(fractional - np.floor(fractional))
    return np.vstack([_grid_atoms(), a, b])


def _brute_minimum(positions: np.ndarray, box: Box) -> float:
    best = math.inf
    shifts = [np.array(s) @ box.matrix for s in itertools.product((-1, 0, 1), repeat=3)]
    for i in range(len(positions)):
        for j in range(i + 1, len(positions)):
            for shift in shifts:
                best = min(best, float(np.linalg.norm(positions[j] + shift - positions[i])))
    return best


@pytest.mark.parametrize("distance,contact", [(0.99, True), (1.01, False), (1.0, True)])
def test_planted_pair_across_triclinic_boundary(distance, contact):
    positions = _planted(distance)
    d_min = minimum_distance_A(positions, BOX)
    assert d_min == pytest.approx(distance, abs=1e-9)
    assert (round(d_min, 9) <= 1.0) == contact
    assert count_close_pairs(positions, BOX, 1.0 + 1e-9) == (1 if contact else 0)


def test_minimum_distance_matches_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(3):
        positions = BOX.to_cartesian(rng.random((40, 3)))
        assert minimum_distance_A(positions, BOX) == pytest.approx(_brute_minimum(positions, BOX), rel=1e-12)


def test_orthogonal_cell_matches_brute_force():
    box = Box(matrix=np.diag([9.0, 10.0, 11.0]), origin=np.array([-4.0, 0.0, 3.0]), triclinic=False)
    rng = np.random.default_rng(5)
    for _ in range(3):
        positions = box.to_cartesian(rng.random((40, 3))) + rng.integers(-2, 3, size=(40, 3)) * 10.0
        assert minimum_distance_A(positions, box) == pytest.approx(_brute_minimum(
            box.to_cartesian(box.to_fractional(positions) % 1.0), box), rel=1e-12)


def test_sparse_cell_grows_the_search():
    positions = BOX.to_cartesian(np.array([[0.1, 0.1, 0.1], [0.6, 0.6, 0.6]]))
    assert minimum_distance_A(positions, BOX, skin_A=0.5) == pytest.approx(_brute_minimum(positions, BOX))


def test_frame_contacts_from_dump(tmp_path):
    path = tmp_path / "t.lammpstrj"
    text = ""
    for step, distance in ((0, 1.01), (500, 0.99)):
        positions = _planted(distance)
        columns = {"id": list(range(1, len(positions) + 1)), "element": ["S"] * len(positions),
                   "x": [float(v) for v in positions[:, 0]], "y": [float(v) for v in positions[:, 1]],
                   "z": [float(v) for v in positions[:, 2]]}
        frame = frame_text(step, TRICLINIC, columns, ["id", "element", "x", "y", "z"])
        # the atoms were placed in BOX, whose origin is not 0: write that origin into the box bounds
        shifted = frame.replace(box_header(TRICLINIC), box_header(TRICLINIC, BOX.origin))
        assert shifted != frame
        text += shifted
    path.write_text(text)
    frames = frame_contacts(path, timestep_ps=0.002)
    assert [f.contact for f in frames] == [False, True]
    assert [f.min_distance_A for f in frames] == pytest.approx([1.01, 0.99], abs=1e-9)
    assert frames[1].time_ps == pytest.approx(1.0)


def test_literature_flag_edges_are_inside():
    band = (4.0, 84.0)
    assert [arrhenius.compare_with_band(v, band) for v in (3.99, 4.0, 40.0, 84.0, 84.01, float("nan"))] == [
        "below", "inside", "inside", "inside", "above", "unknown"]


def test_robustness_classification():
    def run(i, state, frames, contacts, time=None, reason="lost_atoms", message=None):
        return RobustnessRun(f"r{i}", "p", 1000.0, 1e9, i, state, reason if state == "failed" else None,
                             100.0, time, frames, contacts, 2.0, message)
    (some,) = group_conditions([run(1, "done", 100, 3), run(2, "failed", 10, 10, 9.5), run(3, "done", 100, 0)])
    assert some.survival == "some" and some.times_to_failure_ps == [9.5]
    assert some.close_contact_fraction == pytest.approx(13 / 210)
    (none,) = group_conditions([run(1, "failed", 0, 0, 0.0), run(2, "failed", 0, 0, 0.0)])
    assert none.survival == "none" and none.close_contact_label == "—"
    (everything,) = group_conditions([run(1, "done", 100, 0)])
    assert everything.survival == "all" and everything.close_contact_label == "0%"
    (stopped,) = group_conditions([run(1, "done", 100, 0), run(2, "failed", 40, 0, 40.0, "wall_time"),
                                   run(3, "failed", 5, 0, 5.0, "crashed", "LAMMPS process killed by signal SIGTERM")])
    assert (stopped.n_failed, stopped.n_incomplete, stopped.survival) == (0, 2, "incomplete")
    assert stopped.times_to_failure_ps == []
    (segfault,) = group_conditions([run(1, "failed", 5, 0, 5.0, "crashed", "LAMMPS process killed by signal SIGSEGV")])
    assert segfault.n_failed == 1 and segfault.survival == "none"


def test_md_frames_exclude_t0(tmp_path):
    """A paper-length run dumps t = 0 and then one frame per ps: 101 frames, 100 of them MD frames."""
    frames = [FrameContacts(timestep=1000 * k, time_ps=float(k), min_distance_A=0.9 if k == 0 else 2.0,
                            contact=k == 0) for k in range(101)]
    counts = md_frame_counts(frames)
    assert (counts.n_frames, counts.n_contact_frames, counts.min_distance_A, counts.last_time_ps) == (100, 0, 2.0, 100.0)
    assert md_frame_counts(frames[:1]).n_frames == 0


def test_relax_record(tmp_path):
    assert read_relax_record(tmp_path) is None
    (tmp_path / "relax.json").write_text('{"iterations": 1000, "max_iterations": 1000, "max_force_eV_per_A": 0.0008, '
                                         '"force_norm_eV_per_A": 0.02, "force_tolerance_eV_per_A": 0.001, "pe_eV": -1}')
    record = read_relax_record(tmp_path)
    assert record.iterations == 1000 and record.converged   # hit the limit, but every force is below the tolerance
    (tmp_path / "relax.json").write_text('{"iterations": 12, "max_iterations": 1000, "max_force_eV_per_A": 0.5, '
                                         '"force_norm_eV_per_A": 2.0, "force_tolerance_eV_per_A": 0.001, "pe_eV": -1}')
    assert not read_relax_record(tmp_path).converged


# -- Task 3 -----------------------------------------------------------------------------------------
K_B_EV = 8.617333262e-5


def test_exact_arrhenius_data_recovers_ea_and_d298():
    ea, d0 = 0.21, 3.0e-3
    temps = [400.0, 500.0, 600.0, 700.0, 800.0]
    d = [d0 * math.exp(-ea / (K_B_EV * t)) for t in temps]
    fit = arrhenius.fit_arrhenius(temps, d, [0.05 * v for v in d])
    assert fit.ea_eV == pytest.approx(ea, rel=1e-3)
    d298, d298_err = fit.d_cm2_per_s(298.0)
    assert d298 == pytest.approx(d0 * math.exp(-ea / (K_B_EV * 298.0)), rel=1e-3)
    assert d298_err > 0
    unweighted = arrhenius.fit_arrhenius(temps, d)
    assert unweighted.ea_eV == pytest.approx(ea, rel=1e-3)


def test_d298_error_propagation_matches_monte_carlo():
    rng = np.random.default_rng(0)
    temps = np.array([400.0, 600.0, 800.0])
    d = 1e-3 * np.exp(-0.2 / (K_B_EV * temps))
    fit = arrhenius.fit_arrhenius(temps, d, 0.1 * d)
    _, err_ln = fit.ln_d(298.0)
    samples = []
    for _ in range(3000):
        noisy = d * np.exp(rng.normal(0, 0.1, size=3))
        x = 1 / (K_B_EV * temps)
        slope, intercept = np.polyfit(x, np.log(noisy), 1)
        samples.append(intercept + slope / (K_B_EV * 298.0))
    assert err_ln == pytest.approx(np.std(samples), rel=0.1)


def test_nernst_einstein_by_hand():
    n_li, volume_A3, d_cm2_s, temperature = 224, 6100.0, 2.5e-6, 298.0
    n_per_m3 = n_li / (volume_A3 * 1e-30)
    sigma_s_per_m = n_per_m3 * (1.602176634e-19) ** 2 * (d_cm2_s * 1e-4) / (1.380649e-23 * temperature)
    sigma_ms_per_cm = sigma_s_per_m * 10.0  # 1 S/m = 0.01 S/cm = 10 mS/cm
    assert arrhenius.conductivity_ms_per_cm(d_cm2_s, n_li, volume_A3, temperature) == \
        pytest.approx(sigma_ms_per_cm, rel=1e-4)


def test_literature_band_and_flags():
    assert arrhenius.literature_band("crystal") == (4.0, 84.0)
    assert arrhenius.literature_band("all") == (0.011, 84.0)
    assert arrhenius.literature_band("highlighted") == (17.0, 61.0)
    band = arrhenius.literature_band()
    # the paper's Table 3: fine-tuned 11-40 inside; zero-shot 125 and 137 above; 3 below
    assert [arrhenius.compare_with_band(v, band) for v in (11, 40, 125, 137, 3)] == \
        ["inside", "inside", "above", "above", "below"]
    with pytest.raises(AnalysisError):
        arrhenius.literature_band("nonsense")


# -- Task 1 -----------------------------------------------------------------------------------------
def test_eq1_by_hand():
    e_li2s_atom, e_p2s5_atom = -4.0, -4.5
    # Li7P3S11 (21 atoms) = 5 x (Li2S)_0.7(P2S5)_0.3, 4.2 atoms per formula unit
    energy = -90.0
    by_hand_eV = (energy / 5 - 0.7 * 3 * e_li2s_atom - 0.3 * 7 * e_p2s5_atom) / 4.2
    assert by_hand_eV == pytest.approx(-0.15 / 4.2)
    counts = {"Li": 7, "P": 3, "S": 11}
    assert formation.tie_line_x(counts) == pytest.approx(0.7)
    assert formation.formation_energy_meV_per_atom(energy, counts, e_li2s_atom, e_p2s5_atom) == \
        pytest.approx(1000 * by_hand_eV)
    assert formation.formation_energy_eq1_eV_per_atom(energy / 5, 0.7, 3 * e_li2s_atom, 7 * e_p2s5_atom) == \
        pytest.approx(by_hand_eV)
    # gamma-Li3PS4 cell with 2 formula units (16 atoms): x = 3/4, 2 atoms... per fu of (Li2S)x(P2S5)1-x: 4 atoms
    energy = -70.0
    by_hand = (energy / 4 - 0.75 * 3 * e_li2s_atom - 0.25 * 7 * e_p2s5_atom) / 4.0
    value = formation.formation_energy_meV_per_atom(energy, {"Li": 6, "P": 2, "S": 8}, e_li2s_atom, e_p2s5_atom)
    assert value == pytest.approx(1000 * by_hand)
    # the end-points themselves have E_f = 0
    assert formation.formation_energy_meV_per_atom(-12.0, {"Li": 2, "P": 0, "S": 1}, -4.0, -4.5) == \
        pytest.approx(0.0)
    with pytest.raises(AnalysisError, match="tie line"):
        formation.tie_line_x({"Li": 4, "P": 2, "S": 6})


def test_structure_names_and_missing_crystals():
    assert formation.canonical_name("α-Li3PS4") == "alpha-Li3PS4"
    assert formation.canonical_name("gamma_li3ps4") == "gamma-Li3PS4"
    assert formation.canonical_name("lt-li7ps6") == "LT-Li7PS6"
    assert formation.missing_crystals({"Li7P3S11", "β-Li3PS4"}) == [
        "Li2P2S6", "Li4P2S7", "alpha-Li3PS4", "gamma-Li3PS4", "LT-Li7PS6", "HT-Li7PS6"]


# -- Task 2 -----------------------------------------------------------------------------------------
def test_force_errors_by_hand(tmp_path):
    extxyz = tmp_path / "ref.extxyz"
    extxyz.write_text(
        '3\nLattice="10 0 0 0 10 0 0 0 10" Properties=species:S:1:pos:R:3:forces:R:3 energy=-10.0 '
        'temperature=300 pbc="T T T"\n'
        "Li 0 0 0 1.0 0.0 -1.0\nLi 1 0 0 0.5 0.5 0.5\nS 2 0 0 0.0 0.0 0.0\n"
        '2\nLattice="10 0 0 0 10 0 0 0 10" Properties=species:S:1:pos:R:3:forces:R:3 energy=-7.0 '
        'temperature=1500 phase=liquid\n'
        "Li 0 0 0 2.0 0.0 0.0\nS 1 1 1 -2.0 0.0 0.0\n")
    predicted = [[[1.1, 0.0, -1.0], [0.5, 0.3, 0.5], [0.0, 0.0, 0.4]], [[2.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]]
    reference = [[[1.0, 0.0, -1.0], [0.5, 0.5, 0.5], [0.0, 0.0, 0.0]], [[2.0, 0.0, 0.0], [-2.0, 0.0, 0.0]]]
    elements = [["Li", "Li", "S"], ["Li", "S"]]
    text = ""
    for frame, (forces, names) in enumerate(zip(predicted, elements)):
        columns = {"id": list(range(1, len(names) + 1)), "element": names,
                   "fx": [f[0] for f in forces], "fy": [f[1] for f in forces], "fz": [f[2] for f in forces]}
        text += frame_text(0, np.diag([10.0, 10.0, 10.0]), columns, ["id", "element", "fx", "fy", "fz"])
    dump = tmp_path / "forces.lammpstrj"
    dump.write_text(text)  # both frames at timestep 0, as single points are
    energies = tmp_path / "energies.dat"
    energies.write_text("# frame pe_eV\n0 -9.0\n1 -6.2\n")
    result = force_errors_from_files(extxyz, dump, energies)
    diffs = [p - r for fp, fr in zip(predicted, reference) for ap, ar in zip(fp, fr) for p, r in zip(ap, ar)]
    rmse = math.sqrt(sum(d * d for d in diffs) / len(diffs))
    mae = sum(abs(d) for d in diffs) / len(diffs)
    assert result.force_rmse_eV_per_A == pytest.approx(rmse)
    assert result.force_mae_eV_per_A == pytest.approx(mae)
    frame0 = [d for d in diffs[:9]]
    assert result.frame_force_rmse_eV_per_A[0] == pytest.approx(math.sqrt(sum(d * d for d in frame0) / 9))
    assert result.frame_temperature_K == [300.0, 1500.0]
    assert result.frame_phase == [None, "liquid"]
    # two frames, two elements: per-element offsets fit exactly -> zero residual
    assert result.energy_rmse_meV_per_atom == pytest.approx(0.0, abs=1e-9)
    assert result.energy_rmse_raw_meV_per_atom == pytest.approx(
        math.sqrt(((1.0 / 3) ** 2 + (0.8 / 2) ** 2) / 2) * 1000)


def test_energy_offset_single_composition(tmp_path):
    # same composition in every frame: the offset is one constant per atom; residual by hand
    frames = ""
    ref = [-10.0, -10.3, -9.8]
    for energy in ref:
        frames += ('2\nProperties=species:S:1:pos:R:3:forces:R:3 energy=%r\n'
                   'Li 0 0 0 0 0 0\nS 1 1 1 0 0 0\n' % energy)
    (tmp_path / "r.extxyz").write_text(frames)
    text = ""
    for _ in ref:
        text += frame_text(0, np.diag([10.0] * 3), {"id": [1, 2], "fx": [0.0, 0.0], "fy": [0.0, 0.0],
                                                    "fz": [0.0, 0.0]}, ["id", "fx", "fy", "fz"])
    (tmp_path / "f.lammpstrj").write_text(text)
    predicted = [-5.0, -5.1, -4.9]
    (tmp_path / "e.dat").write_text("".join(f"{i} {e}\n" for i, e in enumerate(predicted)))
    result = force_errors_from_files(tmp_path / "r.extxyz", tmp_path / "f.lammpstrj", tmp_path / "e.dat")
    differences = [p - r for p, r in zip(predicted, ref)]
    mean = sum(differences) / 3
    residual_per_atom = [(d - mean) / 2 * 1000 for d in differences]
    assert result.energy_rmse_meV_per_atom == pytest.approx(math.sqrt(sum(r * r for r in residual_per_atom) / 3))
    assert result.force_rmse_eV_per_A == 0.0


def test_one_pass_contacts_equal_separate_pass(tmp_path):
    from analysis.contacts import ContactCollector
    from analysis.msd import load_trajectory
    from analysis_testdata import random_walk_A, write_trajectory

    positions = random_walk_A(30, 20, 0.5, 1.0, 4, TRICLINIC)
    path = write_trajectory(tmp_path / "t.lammpstrj", positions, TRICLINIC, "image", ["Li"] * 30)
    collector = ContactCollector(timestep_ps=0.5)
    load_trajectory(path, 0.5, species="Li", on_frame=collector)
    assert collector.finish() == frame_contacts(path, timestep_ps=0.5)
