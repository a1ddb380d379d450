from pathlib import Path

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.render import find_structure
from harness.structures import (DEFAULT_MIN_DISTANCE_A, Structure, formula_counts, lammps_box, random_hard_sphere,
                                read_cif, read_extxyz, supercell, to_lammps_positions, write_lammps_data,
                                write_rerun_dump)
from harness_testlib import REPO


def _all_distances(positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Sorted minimum-image distances by brute force over 27 images (fine for a few dozen atoms)."""
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)]) @ cell
    d = positions[:, None, None, :] - positions[None, :, None, :] + shifts[None, None, :, :]
    r = np.linalg.norm(d, axis=-1).min(axis=2)
    return np.sort(r[np.triu_indices(len(positions), 1)])


def test_li7p3s11_cif_matches_its_provenance():
    s = read_cif(find_structure("Li7P3S11", Path.cwd()))
    assert s.natoms == 42 and s.counts() == {"Li": 14, "P": 6, "S": 22}
    assert s.volume_a3 == pytest.approx(876.77, abs=0.01)
    assert s.density_g_cm3() == pytest.approx(1.872, abs=0.002)


def test_supercell_of_the_paper_has_672_atoms_and_same_density():
    s = read_cif(find_structure("Li7P3S11", Path.cwd()))
    big = supercell(s, [4, 2, 2])
    assert big.natoms == 672
    assert big.counts() == {"Li": 224, "P": 96, "S": 352}
    assert big.density_g_cm3() == pytest.approx(s.density_g_cm3())


def test_lammps_box_keeps_every_interatomic_distance():
    s = read_cif(find_structure("Li7P3S11", Path.cwd()))
    box, xy, xz, yz = lammps_box(s.cell)
    assert box[0, 1] == box[0, 2] == box[1, 2] == 0.0
    assert abs(np.linalg.det(box)) == pytest.approx(s.volume_a3)
    moved = to_lammps_positions(s, box)
    np.testing.assert_allclose(_all_distances(moved, box), _all_distances(s.positions, s.cell), atol=1e-8)


def test_symmetry_operations_expand_a_cif(tmp_path):
    cif = tmp_path / "nacl.cif"
    cif.write_text("""data_x
_cell_length_a 4.0
_cell_length_b 4.0
_cell_length_c 4.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_symmetry_equiv_pos_as_xyz
'x, y, z'
'x+1/2, y+1/2, z'
'-x, -y, -z'
loop_
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Li 0 0 0
S 0.25 0.25 0.25
""")
    s = read_cif(cif)
    # Each listed operation once (no group closure): Li at (0,0,0) and (1/2,1/2,0), inversion maps Li onto itself;
    # S at (1/4,1/4,1/4), (3/4,3/4,1/4) and (3/4,3/4,3/4).
    assert s.counts() == {"Li": 2, "S": 3}
    frac = sorted(map(tuple, np.round(s.fractional()[s.symbols.index("S"):] % 1.0, 6)))
    assert frac == [(0.25, 0.25, 0.25), (0.75, 0.75, 0.25), (0.75, 0.75, 0.75)]


def test_partial_occupancy_is_refused(tmp_path):
    cif = tmp_path / "bad.cif"
    cif.write_text("data_x\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n_cell_angle_alpha 90\n"
                   "_cell_angle_beta 90\n_cell_angle_gamma 90\nloop_\n_atom_site_type_symbol\n_atom_site_fract_x\n"
                   "_atom_site_fract_y\n_atom_site_fract_z\n_atom_site_occupancy\nLi 0 0 0 0.5\n")
    with pytest.raises(HarnessError, match="partial occupancy"):
        read_cif(cif)


def test_random_hard_sphere_cell_has_exact_composition_density_and_separations():
    s = random_hard_sphere("Li7P3S11", 168, 1.87, DEFAULT_MIN_DISTANCE_A, seed=3)
    assert s.counts() == {"Li": 56, "P": 24, "S": 88}
    assert s.density_g_cm3() == pytest.approx(1.87, rel=1e-9)
    length = s.cell[0, 0]
    for i in range(s.natoms):
        d = s.positions - s.positions[i]
        d -= length * np.round(d / length)
        r = np.linalg.norm(d, axis=1)
        for j in np.nonzero(r > 0)[0]:
            key = "-".join(sorted((s.symbols[i], s.symbols[j])))
            assert r[j] >= DEFAULT_MIN_DISTANCE_A[key] - 1e-9
    again = random_hard_sphere("Li7P3S11", 168, 1.87, DEFAULT_MIN_DISTANCE_A, seed=3)
    np.testing.assert_array_equal(again.positions, s.positions)
    other = random_hard_sphere("Li7P3S11", 168, 1.87, DEFAULT_MIN_DISTANCE_A, seed=4)
    assert not np.allclose(other.positions, s.positions)


def test_random_cell_refuses_impossible_requests():
    with pytest.raises(HarnessError, match="multiple"):
        random_hard_sphere("Li7P3S11", 100, 1.87, DEFAULT_MIN_DISTANCE_A, seed=1)
    with pytest.raises(HarnessError, match="could not place"):
        random_hard_sphere("Li7P3S11", 84, 5.0, {k: 3.5 for k in DEFAULT_MIN_DISTANCE_A}, seed=1, max_attempts=50)


def test_formula_counts():
    assert formula_counts("Li7P3S11") == {"Li": 7, "P": 3, "S": 11}
    assert formula_counts("P2S5") == {"P": 2, "S": 5}
    with pytest.raises(HarnessError):
        formula_counts("li7")


def test_data_file_refuses_elements_the_potential_lacks(tmp_path):
    s = Structure(["Li", "Cl"], np.eye(3) * 5, np.array([[0, 0, 0], [2.5, 2.5, 2.5]]), name="LiCl")
    with pytest.raises(HarnessError, match=r"\['Cl'\]"):
        write_lammps_data(s, tmp_path / "d.lmp", ["Li", "P", "S"], {"Li": 6.94, "P": 30.97, "S": 32.06})
    assert not (tmp_path / "d.lmp").exists()


def test_extxyz_round_trip_to_rerun_dump(tmp_path):
    xyz = tmp_path / "ref.extxyz"
    xyz.write_text('2\nLattice="5 0 0 1 5 0 0 0 5" Properties=species:S:1:pos:R:3:forces:R:3 energy=-1.5 pbc="T T T"\n'
                   "Li 0 0 0 0.1 0 0\nS 2.5 2.5 2.5 -0.1 0 0\n" * 2)
    frames = read_extxyz(xyz)
    assert len(frames) == 2 and frames[0].symbols == ["Li", "S"]
    np.testing.assert_allclose(frames[0].info["forces"], [[0.1, 0, 0], [-0.1, 0, 0]])
    assert frames[0].info["energy_eV"] == -1.5
    np.testing.assert_allclose(frames[0].cell, [[5, 0, 0], [1, 5, 0], [0, 0, 5]])
    np.testing.assert_allclose(frames[1].positions, [[0, 0, 0], [2.5, 2.5, 2.5]])
    write_rerun_dump(frames, tmp_path / "ref.lammpstrj", ["Li", "P", "S"])
    text = (tmp_path / "ref.lammpstrj").read_text()
    assert text.count("ITEM: TIMESTEP") == 2 and "ITEM: BOX BOUNDS xy xz yz pp pp pp" in text


LI2S_CIF = (REPO / "inputs" / "structures" / "Li2S_Fm-3m_12at_constructed.cif").read_text()


@pytest.mark.parametrize("change", [
    ("  Li  Li4  1", "  Li  Li4'  1"),                                 # a quote inside a label (issue 10: a traceback)
    ("_cell_length_a   5.70800000", "_cell_length_a\n5.70800000"),   # a value on the next line (legal CIF)
    ("_cell_length_a   5.70800000", "_cell_length_a   5.708(2)"),    # an uncertainty
    ("_chemical_formula_structural   Li2S", "_chemical_formula_structural\n;\nLi2S\n;"),   # a text field
    ("  S  S0  1", "  S2-  S0  1"),                                   # an oxidation state on the type symbol
])
def test_legal_cif_variants_read_like_the_original(tmp_path, change):
    reference = read_cif(REPO / "inputs" / "structures" / "Li2S_Fm-3m_12at_constructed.cif")
    cif = tmp_path / "variant.cif"
    cif.write_text(LI2S_CIF.replace(*change))
    assert cif.read_text() != LI2S_CIF
    structure = read_cif(cif)
    assert structure.symbols == reference.symbols
    np.testing.assert_allclose(structure.cell, reference.cell, atol=1e-12)
    np.testing.assert_allclose(structure.positions, reference.positions, atol=1e-12)


def test_space_group_symbol_alone_expands_the_asymmetric_unit(tmp_path):
    """Fm-3m Li2S (antifluorite) from its two sites: 4 S at 4a and 8 Li at 8c, as the shipped P1 file lists them."""
    cif = tmp_path / "li2s.cif"
    cif.write_text("data_Li2S\n_symmetry_space_group_name_H-M 'F m -3 m'\n_symmetry_Int_Tables_number 225\n"
                   "_cell_length_a 5.708\n_cell_length_b 5.708\n_cell_length_c 5.708\n_cell_angle_alpha 90\n"
                   "_cell_angle_beta 90\n_cell_angle_gamma 90\nloop_\n_atom_site_label\n_atom_site_type_symbol\n"
                   "_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n_atom_site_occupancy\n"
                   "S1 S 0 0 0 1.0\nLi1 Li 0.25 0.25 0.25 1.0\n")
    structure = read_cif(cif)
    assert structure.counts() == {"S": 4, "Li": 8}
    reference = read_cif(REPO / "inputs" / "structures" / "Li2S_Fm-3m_12at_constructed.cif")
    assert sorted(map(tuple, np.round(structure.fractional(), 6) % 1.0)) == \
        sorted(map(tuple, np.round(reference.fractional(), 6) % 1.0))


def test_a_site_listed_twice_is_kept_once(tmp_path):
    cif = tmp_path / "twice.cif"
    cif.write_text(LI2S_CIF.replace("  S  S0  1  0.00000000  0.00000000  0.00000000  1\n",
                                    "  S  S0  1  0.00000000  0.00000000  0.00000000  1\n"
                                    "  S  S0b  1  0.00000000  0.00000000  0.00000000  1\n"))
    assert read_cif(cif).natoms == 12
