"""Potentials are data: every shipped potential loads, passes `harness potentials check`, and runs every template."""

import pytest

from harness.check import check_potential
from harness.errors import HarnessError
from harness.paths import potentials_dir
from harness.potentials import load_potential
from harness_testlib import harness

SHIPPED = sorted(p.stem for p in potentials_dir().glob("*.toml"))


def test_there_is_a_shipped_potential_that_needs_no_download():
    assert "toy-morse" in SHIPPED


def _skip_calculator_without_its_stack(name: str) -> None:
    """Calculator potentials (docs/calculators.md) need their model's package or environment (scripts/test.sh)."""
    import importlib.util
    import os
    pot = load_potential(name)
    if pot.calculator is None or os.environ.get("CI") == "true":
        return
    from harness.calculator_launch import envs_dir
    missing = (not (envs_dir() / pot.calculator.python / "bin" / "python").is_file() if pot.calculator.python
               else importlib.util.find_spec(pot.calculator.import_path.split(".")[0].split(":")[0]) is None)
    if missing:
        pytest.skip(f"{name}: its model package or environment is not installed")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_potential_passes_its_checks(name):
    _skip_calculator_without_its_stack(name)
    report = check_potential(load_potential(name))
    assert any("0-step run" in line for line in report)


@pytest.mark.parametrize("name", SHIPPED)
def test_cli_list_show_check(name):
    _skip_calculator_without_its_stack(name)
    listing = harness("potentials", "list")
    assert listing.returncode == 0 and name in listing.stdout
    shown = harness("potentials", "show", name)
    assert shown.returncode == 0 and "pair_style" in shown.stdout and "{{" not in shown.stdout
    checked = harness("potentials", "check", name)
    assert checked.returncode == 0, checked.stderr
    assert "all checks passed" in checked.stdout


def test_check_reports_a_broken_pair_style(tmp_path):
    (tmp_path / "broken.toml").write_text('elements = ["Li", "P", "S"]\npair_style = "no/such/style"\npair_coeff = ["* *"]\n')
    with pytest.raises(HarnessError, match="0-step run failed: ERROR: Unrecognized pair style 'no/such/style'"):
        check_potential(load_potential(str(tmp_path / "broken.toml")))


def test_check_reports_missing_packages(tmp_path):
    (tmp_path / "gpu.toml").write_text('elements = ["Li", "P", "S"]\npair_style = "zbl 1 2"\npair_coeff = ["* * 3 3"]\n'
                                       'packages = ["NOT-A-PACKAGE"]\n')
    with pytest.raises(HarnessError, match="lacks packages"):
        check_potential(load_potential(str(tmp_path / "gpu.toml")))


def test_pair_lines_fill_elements_and_files(tmp_path):
    (tmp_path / "m.snapcoeff").write_text("x")
    (tmp_path / "m.toml").write_text('elements = ["Li", "P", "S"]\npair_style = "snap"\n'
                                     'pair_coeff = ["* * {{ files.coeff }} {{ elements }}"]\n'
                                     'commands = ["# model {{ files.coeff }}"]\n[files.coeff]\npath = "m.snapcoeff"\n')
    pot = load_potential(str(tmp_path / "m.toml"))
    assert pot.pair_lines({"coeff": "X.snapcoeff"}) == ["pair_style      snap",
                                                         "pair_coeff      * * X.snapcoeff Li P S", "# model X.snapcoeff"]
    (tmp_path / "bad.toml").write_text('elements = ["Li"]\npair_style = "snap"\npair_coeff = ["* * {{ files.nope }}"]\n')
    with pytest.raises(HarnessError, match="'dict object' has no attribute 'nope'"):
        load_potential(str(tmp_path / "bad.toml")).pair_lines({})


@pytest.mark.parametrize("elements", [["Li", "P", "S"], ["Na", "Cl"], ["H", "O"], ["Cs", "I"], ["Si"],
                                      ["Li", "P", "S", "O"], ["Fe", "Ni"]])
def test_mace_parity_cells_exist_for_any_element_set(elements):
    """The parity check of `potentials check` needs three cells for the potential's elements, whatever they are
    (issue 10: non Li-P-S sets had no minimum distances for the random cell and failed)."""
    from harness.mace import parity_cells
    from harness.structures import closest_pair
    masses = {"Fe": 55.845, "Ni": 58.693}
    cells = parity_cells(elements, masses={e: masses[e] for e in elements if e in masses})
    assert len(cells) == 3
    crystal, rattled, dense = cells
    assert set(dense.symbols) == set(elements)          # the random cell holds every element
    assert set(crystal.symbols) <= set(elements) and rattled.symbols == crystal.symbols
    for cell in cells:
        assert cell.natoms >= 8 and cell.volume_a3 > 0
        # no two atoms on top of each other: at least 0.6 of the sum of their covalent radii apart
        i, j, distance = closest_pair(cell)
        from ase.data import atomic_numbers, covalent_radii
        radii = covalent_radii[atomic_numbers[cell.symbols[i]]] + covalent_radii[atomic_numbers[cell.symbols[j]]]
        assert distance > 0.6 * radii * (0.8 if cell is rattled else 1.0), (cell.name, distance)
    if set(elements) == {"Li", "P", "S"}:
        assert crystal.name == "Li7P3S11" and dense.natoms == 42


def test_check_cell_for_an_element_without_a_standard_weight(tmp_path):
    """`potentials check` builds its test cell with the potential's masses (Fe has no standard weight in
    harness.elements: this used to be a KeyError traceback)."""
    from harness.check import _test_cell
    (tmp_path / "fe.toml").write_text('elements = ["Fe"]\npair_style = "lj/cut 5.0"\npair_coeff = ["1 1 0.1 2.3"]\n'
                                      '[masses]\nFe = 55.845\n')
    cell = _test_cell(load_potential(str(tmp_path / "fe.toml")))
    assert cell.counts() == {"Fe": 8}
    # 8 atoms of 55.845 amu at 2.0 g/cm^3
    assert abs(cell.volume_a3 - 8 * 55.845 / 6.02214076e23 / 2.0 * 1e24) < 1e-6
