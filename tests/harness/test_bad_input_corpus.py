"""A corpus of bad structures, potential files, dumps and reference files, each given to the real command line:
every one must end with exit status 2, exactly one line on stderr that names the problem, and no output left
behind. (Bad campaign files are in test_bad_input.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness_testlib import REPO, harness

LI2S = (REPO / "inputs" / "structures" / "Li2S_Fm-3m_12at_constructed.cif").read_text()
REFERENCE_FRAME = "\n".join(
    (REPO / "inputs" / "reference" / "li7p3s11_meltquench_chgnet.extxyz").read_text().splitlines()[:86]) + "\n"
POTENTIAL = 'name = "p"\nelements = ["Li", "P", "S"]\npair_style = "zbl 0.9 1.3"\npair_coeff = ["* * 3 3"]\n'


def _frame(step: int, shift: float) -> str:
    return (f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n0 10\n"
            f"ITEM: ATOMS id element xu yu zu\n1 Li {1 + shift:.1f} 1 1\n2 Li 2 {2 + shift:.1f} 2\n")


DUMP = "".join(_frame(10 * k, 0.1 * k) for k in range(20))

# kind, file text (None: no file), expected text in the error line
STRUCTURES = {
    "empty file": ("", "missing CIF field _cell_length_a"),
    "binary garbage": ("\x00\x01garbage\xff", "not a text (CIF) file"),
    "no cell lengths": ("\n".join(l for l in LI2S.splitlines() if not l.startswith("_cell_length")),
                        "missing CIF field _cell_length_a"),
    "zero cell length": (LI2S.replace("_cell_length_b   5.70800000", "_cell_length_b   0.0"),
                         "cell lengths must be positive"),
    "impossible angles": (LI2S.replace("_cell_angle_alpha   90.00000000", "_cell_angle_alpha   170")
                          .replace("_cell_angle_beta   90.00000000", "_cell_angle_beta   170"),
                          "describe no cell with a volume"),
    "no atom sites": (LI2S.split("loop_\n _atom_site_type_symbol")[0], "no atoms"),
    "element the potential lacks": (LI2S.replace("  S  S0", "  Na  Na0"), "elements ['Na'] that the potential"),
    "not an element": (LI2S.replace("  S  S0", "  Xx  Xx0"), "cannot read an element from 'Xx'"),
    "lower-case element": (LI2S.replace("  S  S0", "  s  s0"), "cannot read an element from 's'"),
    "unknown occupancy": (LI2S.replace("0.25000000  0.75000000  1\n", "0.25000000  0.75000000  ?\n", 1),
                          "_atom_site_occupancy '?' is not a number"),
    "two species on one site": (LI2S.replace("  S  S1  1  0.50000000  0.50000000  0.00000000",
                                             "  Li  S1  1  0.00000000  0.00000000  0.00000000"), "are 0.000 Å apart"),
    "row split across lines wrongly": (LI2S.replace("  Li  Li4  1  0.75000000  0.25000000  0.75000000  1",
                                                    "  Li  Li4  1  0.75"), "Wrong number 11 of tokens, expected 7"),
    "non-numeric cell length": (LI2S.replace("_cell_length_b   5.70800000", "_cell_length_b   abc"),
                                "_cell_length_b 'abc' is not a number"),
    "unterminated text field": (LI2S.replace("_chemical_formula_structural   Li2S", "_chemical_formula_structural\n;\nLi2S"),
                                "cannot read it as CIF"),
    "unknown space group": (LI2S.replace("loop_\n _symmetry_equiv_pos_site_id\n _symmetry_equiv_pos_as_xyz\n  1  'x, y, z'\n", "")
                            .replace("_symmetry_Int_Tables_number   1\n", "").replace("'P 1'", "'Q 9'"),
                            "unknown space group 'Q 9'"),
    "non-numeric coordinate": (LI2S.replace("S0  1  0.00000000", "S0  1  abc"), "_atom_site_fract_x 'abc' is not a number"),
    "bad symmetry operation": (LI2S.replace("'x, y, z'", "'x, y'"), "cannot read symmetry operation 'x, y'"),
    "overlapping atoms": (LI2S.replace("S1  1  0.50000000  0.50000000  0.00000000", "S1  1  0.02  0.0  0.0"),
                          "are 0.114 Å apart"),
    "partial occupancy": (LI2S.replace("0.25000000  0.75000000  1\n", "0.25000000  0.75000000  0.5\n", 1),
                          "partial occupancy 0.5"),
    "short atom site line": (LI2S.replace("  Li  Li11  1  0.25000000  0.25000000  0.75000000  1", "  Li  Li11  1  0.25"),
                             "CIF loop ended unexpectedly with incomplete row"),
}
POTENTIALS = {
    "invalid toml": (POTENTIAL + "[[[\n", "invalid TOML"),
    "no pair_style": (POTENTIAL.replace('pair_style = "zbl 0.9 1.3"\n', ""), "missing field 'pair_style'"),
    "no elements": (POTENTIAL.replace('elements = ["Li", "P", "S"]', "elements = []"),
                    "elements: list at least one value, got []"),
    "unknown element": (POTENTIAL.replace('"P"', '"Qq"'), "elements[1]: unknown element symbol 'Qq'"),
    "element without a default mass": (POTENTIAL.replace('"P"', '"Xe"'), "no default mass for element 'Xe'"),
    "undefined file key": (POTENTIAL.replace('"* * 3 3"', '"* * {{ files.model }}"'), "has no attribute 'model'"),
    "negative timestep": (POTENTIAL + "timestep_fs = -1\n", "timestep_fs: must be a positive number, got -1"),
    # the tracebacks of issue 10, now one line each
    "text timestep": (POTENTIAL + 'timestep_fs = "fast"\n', "timestep_fs: expected a number, got 'fast'"),
    "text masses": (POTENTIAL + 'masses = "heavy"\n', "[masses]: expected a table, got 'heavy'"),
    "text mass": (POTENTIAL + '[masses]\nLi = "heavy"\n', "[masses].Li: expected a number, got 'heavy'"),
    "mass of an element not listed": (POTENTIAL + '[masses]\nNa = 22.99\n', "'Na' is not one of elements"),
    "malformed sha256": (POTENTIAL + '[files.t]\npath = "t.table"\nsha256 = "abc"\n',
                         "[files.t].sha256: expected 64 hexadecimal digits"),
    "accelerator without args": (POTENTIAL + '[accelerator.kokkos]\nflags = ["-k"]\n',
                                 "[accelerator.kokkos]: missing field 'args'"),
    "name with a slash": (POTENTIAL.replace('name = "p"', 'name = "../p"'), "potential name '../p' may hold only"),
    "jinja syntax error": (POTENTIAL.replace('"* * 3 3"', '"* * {{ files. }}"'), "pair_coeff[0]:"),
    "element twice": (POTENTIAL.replace('"P"', '"Li"'), "lists Li more than once"),
    "pair_coeff not a list": (POTENTIAL.replace('pair_coeff = ["* * 3 3"]', 'pair_coeff = "* * 3 3"'),
                              "pair_coeff: expected a list, got '* * 3 3'"),
    "misspelt field": (POTENTIAL + 'pair_coef = ["x"]\n', "unknown field 'pair_coef'"),
    "model file missing": (POTENTIAL.replace('"* * 3 3"', '"* * {{ files.table }}"') + '[files.table]\npath = "t.table"\n',
                           "t.table (files.table) does not exist"),
}
DUMPS = {
    "empty file": ("", "no 'ITEM: ATOMS' line"),
    "not a dump": ("hello world\n1 2 3\n", "no 'ITEM: ATOMS' line"),
    "atom count not a number": (DUMP.replace("ITEM: NUMBER OF ATOMS\n2\n", "ITEM: NUMBER OF ATOMS\ntwo\n", 1),
                                "bad atom count 'two'"),
    "malformed box": (DUMP.replace("0 10\n0 10\n0 10\n", "0 10\n0\n0 10\n", 1), "box bounds need two numbers"),
    "nan coordinate": (DUMP.replace("1 Li 1.2 1 1", "1 Li nan 1 1"), "non-finite coordinate (nan or inf) at timestep 20"),
    "frames out of order": (DUMP.replace("ITEM: TIMESTEP\n30", "ITEM: TIMESTEP\n5"), "not evenly spaced in time"),
    "atoms missing in a frame": (DUMP.replace("2 Li 2 2.2 2\n", ""), "corrupt frame at timestep 20"),
    "atom ids change": (DUMP.replace("2 Li 2 2.2 2", "3 Li 2 2.2 2"), "atom ids at timestep 20"),
    "atom count changes": (DUMP.replace(_frame(30, 0.3), _frame(30, 0.3).replace("ATOMS\n2\n", "ATOMS\n1\n")
                                        .replace("2 Li 2 2.3 2\n", "")), "atom count changes from 2 to 1"),
    "no such file": (None, "cannot read t.lammpstrj: No such file or directory"),
    "no coordinate columns": (DUMP.replace("xu yu zu", "vx vy vz"), "no coordinate columns"),
}
REFERENCES = {
    "extxyz: atom count too large": ("extxyz", REFERENCE_FRAME.replace("84\n", "85\n", 1), "Frame has 84 atoms, expected 85"),
    "extxyz: no lattice": ("extxyz", REFERENCE_FRAME.replace('Lattice="', 'Lattix="', 1), "lacks Lattice="),
    "extxyz: no forces": ("extxyz", REFERENCE_FRAME.replace(":forces:R:3", "", 1), "frame 0 has no forces"),
    "extxyz: no energy": ("extxyz", REFERENCE_FRAME.replace("energy=-389.34323120 ", "", 1), "frame 0 has no energy="),
    "extxyz: element the potential lacks": ("extxyz", REFERENCE_FRAME.replace("\nLi ", "\nNa ", 1), "['Na'] not covered"),
    "extxyz: non-numeric force": ("extxyz", REFERENCE_FRAME.replace(" 0.01523375", " x0.015", 1), "could not convert string to float: 'x0.015'"),
    "extxyz: nan force": ("extxyz", REFERENCE_FRAME.replace(" 0.01523375", " nan", 1), "non-finite values (nan or inf) in forces"),
    "extxyz: text energy": ("extxyz", REFERENCE_FRAME.replace("energy=-389.34323120", "energy=abc", 1), "non-numeric energy"),
    "extxyz: not an element": ("extxyz", REFERENCE_FRAME.replace("\nLi ", "\nXx ", 1), "cannot read it as extended XYZ"),
    "extxyz: bad lattice": ("extxyz", REFERENCE_FRAME.replace('Lattice="12.37767600 0.00000000', 'Lattice="12.37767600 abc', 1), "9-long numerical vector"),
    "extxyz: empty file": ("extxyz", "", "has no frames"),
    "formation: no energy column": ("csv", "structure,formula\nLi7P3S11,Li7P3S11\n", "needs the columns"),
    "formation: text energy": ("csv", "structure,E_f_meV_per_atom\nLi7P3S11,abc\n", "non-numeric E_f_meV_per_atom 'abc'"),
    "formation: empty file": ("csv", "", "needs the columns"),
    "formation: structure twice": ("csv", "structure,E_f_meV_per_atom\nLi7P3S11,-40\nLi7P3S11,-41\n", "appears twice"),
    "formation: unknown structure": ("csv", "structure,E_f_meV_per_atom\nLi3PS5,-40\n", "unknown structures: Li3PS5"),
}


def _one_line_and_nothing_left(result, expected: str, folder: Path, inputs: set[str]) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness"), result.stderr
    assert expected in lines[0], lines[0]
    left = {p.name for p in folder.iterdir()} - inputs
    assert not left, f"output left behind: {left}"


@pytest.mark.parametrize("case", sorted(STRUCTURES))
def test_bad_structure(case, tmp_path):
    text, expected = STRUCTURES[case]
    (tmp_path / "bad.cif").write_bytes(text.encode("latin-1", "replace") if "\xff" in text else text.encode())
    (tmp_path / "c.toml").write_text('[campaign]\npotentials = ["toy-morse"]\n[formation]\nstructures = ["bad.cif"]\n')
    result = harness("render", "c.toml", "--out", "out", cwd=tmp_path)
    _one_line_and_nothing_left(result, expected, tmp_path, {"bad.cif", "c.toml"})


@pytest.mark.parametrize("case", sorted(POTENTIALS))
def test_bad_potential_file(case, tmp_path):
    text, expected = POTENTIALS[case]
    (tmp_path / "potentials").mkdir()
    (tmp_path / "potentials" / "p.toml").write_text(text)
    (tmp_path / "c.toml").write_text('[campaign]\npotentials = ["p"]\n[formation]\nstructures = ["Li2S"]\n')
    result = harness("render", "c.toml", "--out", "out", cwd=tmp_path)
    _one_line_and_nothing_left(result, expected, tmp_path, {"potentials", "c.toml"})


@pytest.mark.parametrize("case", sorted(DUMPS))
def test_bad_dump(case, tmp_path):
    text, expected = DUMPS[case]
    if text is not None:
        (tmp_path / "t.lammpstrj").write_text(text)
    result = harness("analyze", "msd", "t.lammpstrj", "--species", "Li", "--timestep-ps", "0.001", "--blocks", "1",
                     cwd=tmp_path)
    _one_line_and_nothing_left(result, expected, tmp_path, {"t.lammpstrj"})


@pytest.mark.parametrize("case", sorted(REFERENCES))
def test_bad_reference_file(case, tmp_path):
    kind, text, expected = REFERENCES[case]
    if kind == "extxyz":
        (tmp_path / "ref.extxyz").write_text(text)
        campaign = '[campaign]\npotentials = ["toy-morse"]\n[forces]\nreference = "ref.extxyz"\n'
    else:
        (tmp_path / "ref.csv").write_text(text)
        campaign = ('[campaign]\npotentials = ["toy-morse"]\n[formation]\nstructures = ["Li7P3S11", "Li2S"]\n'
                    'reference = "ref.csv"\n')
    (tmp_path / "c.toml").write_text(campaign)
    result = harness("render", "c.toml", "--out", "out", cwd=tmp_path)
    _one_line_and_nothing_left(result, expected, tmp_path, {"ref.extxyz", "ref.csv", "c.toml"})


def test_the_unmodified_inputs_are_accepted(tmp_path):
    """Each bad case above is one change to a good input: the good inputs themselves must pass, so that every
    error above is caused by its one change (and a checker that refused everything would fail here)."""
    (tmp_path / "potentials").mkdir()
    (tmp_path / "potentials" / "p.toml").write_text(POTENTIAL)
    (tmp_path / "good.cif").write_text(LI2S)
    (tmp_path / "ref.extxyz").write_text(REFERENCE_FRAME)
    (tmp_path / "ref.csv").write_text("structure,E_f_meV_per_atom\nLi2S,-40\n")
    (tmp_path / "t.lammpstrj").write_text(DUMP)
    (tmp_path / "c.toml").write_text('[campaign]\npotentials = ["p"]\n[formation]\nstructures = ["good.cif", "Li2S"]\n'
                                     'reference = "ref.csv"\n[forces]\nreference = "ref.extxyz"\n')
    result = harness("render", "c.toml", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = (tmp_path / "out" / "manifest.json").read_text()
    assert "t1-relax-p-good" in manifest and "t2-forces-p" in manifest
    result = harness("analyze", "msd", "t.lammpstrj", "--species", "Li", "--timestep-ps", "0.001", "--blocks", "1",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
