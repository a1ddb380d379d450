"""harness structures order: exact counts, the smallest supercell, determinism, errors, a real LAMMPS relaxation."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.ordering import (draw_orderings, exact_occupancy, order_structure, read_disordered_cif,
                              smallest_supercell, write_ordered_cif)
from harness.structures import read_cif

REPO = Path(__file__).resolve().parents[2]

HEADER = """data_test
_cell_length_a {a}
_cell_length_b {a}
_cell_length_c {a}
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_symmetry_equiv_pos_as_xyz
{ops}
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
"""

# P-1 (x,y,z and -x,-y,-z). S1: 2 sites (full); Li1: 2 sites at 1/2; Li2: 2 sites at 1/4 -> 2 cells needed;
# P1/S2 share the inversion centre (1 site) at 1/2 each -> 2 cells needed.
# Smallest supercell: 2 cells; per supercell: S 4 + 1 = 5... see EXPECTED.
DISORDERED = HEADER.format(a=6.0, ops="'x, y, z'\n'-x, -y, -z'") + """S1 S 0.1 0.1 0.1 1.0
Li1 Li 0.25 0.4 0.3 0.5
Li2 Li 0.1 0.3 0.6 0.25
P1 P 0.5 0.5 0.5 0.5
S2 S 0.5 0.5 0.5 0.5
"""
# counts in 2 cells: S1 4, Li1 4 sites x 1/2 = 2, Li2 4 sites x 1/4 = 1, P1/S2 2 sites: 1 P + 1 S
EXPECTED = {"Li": 3, "P": 1, "S": 5}


def _antifluorite(occupancy: str) -> str:
    """Li2S conventional cell written in P1: 4 S, 8 tetrahedral Li sites all labelled Li1 (one sublattice)."""
    s = [(0, 0, 0), (0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0)]
    li = [(x, y, z) for x in (0.25, 0.75) for y in (0.25, 0.75) for z in (0.25, 0.75)]
    rows = [f"S{i + 1} S {x} {y} {z} 1.0" for i, (x, y, z) in enumerate(s)]
    rows += [f"Li1 Li {x} {y} {z} {occupancy}" for x, y, z in li]
    return HEADER.format(a=5.708, ops="'x, y, z'") + "\n".join(rows) + "\n"


@pytest.fixture
def disordered(tmp_path):
    path = tmp_path / "disordered.cif"
    path.write_text(DISORDERED)
    return path


def test_sites_sublattices_and_smallest_supercell(disordered):
    crystal = read_disordered_cif(disordered)
    by_label = {"+".join(s.labels): s for s in crystal.sublattices}
    assert set(by_label) == {"S1", "Li1", "Li2", "P1+S2"}
    assert len(by_label["Li1"].fractional) == 2 and len(by_label["P1+S2"].fractional) == 1
    assert by_label["P1+S2"].occupancy == {"P": Fraction(1, 2), "S": Fraction(1, 2)}
    assert smallest_supercell(crystal) in {(2, 1, 1), (1, 2, 1), (1, 1, 2)}
    (ordering,) = draw_orderings(crystal, (1, 1, 2), 1, seed=0)
    counts = ordering.structure.counts()
    assert counts == EXPECTED
    assert ordering.structure.volume_a3 == pytest.approx(2 * 6.0**3)


def test_exact_fractions_and_their_notes():
    assert exact_occupancy(0.5, "x") == (Fraction(1, 2), None)
    value, note = exact_occupancy(0.333, "site Li1")
    assert value == Fraction(1, 3) and "0.333 read as 1/3" in note
    with pytest.raises(HarnessError, match="no fraction"):
        exact_occupancy(0.37, "site Li1")


def test_third_occupancy_needs_three_cells(tmp_path):
    path = tmp_path / "third.cif"
    path.write_text(HEADER.format(a=5.0, ops="'x, y, z'") + "S1 S 0 0 0 1.0\nLi1 Li 0.5 0.5 0.5 0.333\n")
    result = order_structure(path, samples=2, seed=1)
    assert np.prod(result.repeats) == 3
    assert result.chosen.structure.counts() == {"S": 3, "Li": 1}
    assert any("read as 1/3" in n for n in result.crystal.notes)


def test_no_supercell_within_the_limit_is_an_error(tmp_path):
    path = tmp_path / "dilute.cif"
    path.write_text(HEADER.format(a=5.0, ops="'x, y, z'") + "S1 S 0 0 0 1.0\nLi1 Li 0.5 0.5 0.5 0.041667\n")
    with pytest.raises(HarnessError, match=r"no supercell of up to 8 cells .*multiple of 24"):
        order_structure(path, max_cells=8)
    assert np.prod(order_structure(path, max_cells=24).repeats) == 24


def test_given_supercell_is_checked(disordered):
    with pytest.raises(HarnessError, match="fractional atom counts"):
        order_structure(disordered, repeats=(1, 1, 1))
    result = order_structure(disordered, repeats=(2, 2, 1), samples=3)
    assert result.chosen.structure.counts() == {k: 2 * v for k, v in EXPECTED.items()}


def test_orderings_are_deterministic_per_seed(tmp_path):
    path = tmp_path / "li2s.cif"
    path.write_text(_antifluorite("0.5"))
    crystal = read_disordered_cif(path)
    assert smallest_supercell(crystal) == (1, 1, 1)
    first = [o.structure.positions for o in draw_orderings(crystal, (1, 1, 1), 6, seed=5)]
    again = [o.structure.positions for o in draw_orderings(crystal, (1, 1, 1), 6, seed=5)]
    other = [o.structure.positions for o in draw_orderings(crystal, (1, 1, 1), 6, seed=6)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    a_out, b_out = tmp_path / "a.cif", tmp_path / "b.cif"
    for out in (a_out, b_out):
        write_ordered_cif(order_structure(path, samples=6, seed=5), out, 5)
    assert a_out.read_text() == b_out.read_text()
    ordered = read_cif(a_out)   # the harness reads what it wrote: 4 S + 4 of the 8 Li sites
    assert ordered.counts() == {"S": 4, "Li": 4}
    assert "seed: 5" in a_out.read_text()


def test_overfull_site_is_an_error(tmp_path):
    path = tmp_path / "overfull.cif"
    path.write_text(HEADER.format(a=5.0, ops="'x, y, z'") + "S1 S 0 0 0 0.7\nP1 P 0 0 0 0.6\n")
    with pytest.raises(HarnessError, match="occupied 1.3 times"):
        read_disordered_cif(path)


def test_cli_relaxes_with_a_potential_and_keeps_the_lowest(tmp_path):
    path = tmp_path / "li2s.cif"
    path.write_text(_antifluorite("0.5"))
    out = tmp_path / "ordered.cif"
    env = {"PYTHONPATH": str(REPO), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "harness", "structures", "order", str(path), "--out", str(out),
                           "--potential", "toy-morse", "--samples", "3", "--seed", "2"], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    energies = {int(line.split()[2].rstrip(":")): float(line.split("E = ")[1].split()[0])
                for line in text.splitlines() if line.startswith("# ordering ")}
    assert len(energies) == 3
    chosen = int(text.split("chosen: ordering ")[1].split(",")[0])
    assert energies[chosen] == min(energies.values())
    assert "toy-morse" in text and read_cif(out).counts() == {"S": 4, "Li": 4}


def test_cli_bad_input_is_one_line(tmp_path):
    path = tmp_path / "dis.cif"
    path.write_text(DISORDERED)
    out = tmp_path / "o.cif"
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "harness", "structures", "order", str(path), "--out", str(out),
                           "--supercell", "1", "1", "1"], cwd=REPO, capture_output=True, text=True, env=env)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "fractional atom counts" in done.stderr and not out.exists()
