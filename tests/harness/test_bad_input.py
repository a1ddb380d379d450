"""Every bad input gives one line naming the problem and the field, exit status 2, and no campaign directory."""

from pathlib import Path

import pytest

from harness_testlib import TINY, harness, write_campaign

BAD_POTENTIAL_ELEMENTS = """
name = "li-s-only"
elements = ["Li", "S"]
pair_style = "zbl 0.9 1.3"
pair_coeff = ["1 1 3 3", "1 2 3 16", "2 2 16 16"]
"""
MISSING_FILE_POTENTIAL = """
name = "needs-file"
elements = ["Li", "P", "S"]
pair_style = "snap"
pair_coeff = ["* * {{ files.coeff }} {{ files.param }} {{ elements }}"]
[files.coeff]
path = "missing.snapcoeff"
[files.param]
path = "missing.snapparam"
"""
BAD_FORMULA_REFERENCE = """structure,formula,natoms,energy_eV,energy_per_atom_eV
Li2S,Li2S,12,-50.0,-4.1666
P2S5,P2S5,28,-130.0,-4.6428
Li7P3S11,Li7P3S11x,42,-196.0,-4.6666
"""
ONLY_FORMATION = '[campaign]\npotentials = ["{pot}"]\n[formation]\nstructures = ["Li7P3S11"]\n'

CASES = {
    "unknown task": (TINY + "\n[phonons]\nmesh = 3\n", "unknown task or section [phonons]"),
    "unknown field": (TINY.replace("repeats = 1\ndump_interval_ps = 0.01\n\n[robustness]",
                                   "repeats = 1\ndump_interval_ps = 0.01\ntemprature_K = 3\n\n[robustness]"),
                      "[conductivity]: unknown field 'temprature_K'"),
    "unknown potential": (TINY.replace('"toy-morse"', '"no-such-potential"'), "unknown potential 'no-such-potential'"),
    "negative temperature": (TINY.replace("temperatures_K = [600, 800]", "temperatures_K = [600, -5]"),
                             "[conductivity].temperatures_K[1]: must be a positive number, got -5"),
    "zero temperature": (TINY.replace("T_high_K = 900", "T_high_K = 0"), "[melt_quench].T_high_K: must be a positive"),
    "zero duration": (TINY.replace("duration_ps = 0.1", "duration_ps = 0"), "[conductivity].duration_ps: must be a positive"),
    "negative timestep": (TINY.replace("seed = 7", "seed = 7\ntimestep_fs = -1.0"), "[campaign].timestep_fs: must be a positive"),
    "task timestep zero": (TINY.replace("[robustness]\n", "[robustness]\ntimestep_fs = 0\n"), "[robustness].timestep_fs"),
    "text for a number": (TINY.replace("duration_ps = 0.1", 'duration_ps = "long"'), "[conductivity].duration_ps: expected a number"),
    "zero repeats": (TINY.replace("repeats = 1\ndump_interval_ps = 0.01\n\n[robustness]", "repeats = 0\ndump_interval_ps = 0.01\n\n[robustness]"),
                     "[conductivity].repeats: must be a positive integer"),
    "bad supercell": (TINY.replace("supercell = [1, 1, 1]\ntemperatures_K", "supercell = [1, 0, 1]\ntemperatures_K"),
                      "[conductivity].supercell"),
    "unknown pressure unit": (TINY.replace('"1 GPa"', '"1 psi"'), "unknown pressure unit 'psi'"),
    "negative pressure": (TINY.replace('"1 GPa"', '-1e5'), "[robustness].pressures_Pa[1]: pressures must be positive, got -100000"),
    "melt below quench": (TINY.replace("T_high_K = 900", "T_high_K = 200"), "T_high_K (200) must be above T_low_K"),
    "unknown variant": (TINY.replace("[melt_quench]\n", '[melt_quench]\nvariants = ["npt", "slow"]\n'), "[melt_quench].variants[1]: expected one of 'npt', 'nvt', 'iter1', 'iter2', 'nvt_iter1' or 'npt_iter2', got 'slow'"),
    "missing structure": (TINY.replace('structures = ["Li2S"]', 'structures = ["Li4P2S7"]'), "unknown structure 'Li4P2S7'"),
    "missing structure file": (TINY.replace('structures = ["Li2S"]', 'structures = ["nowhere/x.cif"]'), "structure file"),
    "no potentials": (TINY.replace('potentials = ["toy-morse"]', "potentials = []"), "[campaign].potentials: list at least one"),
    "no tasks": ('[campaign]\npotentials = ["toy-morse"]\n', "no tasks"),
    "invalid toml": (TINY + "\n[[[", "invalid TOML"),
    "missing reference": (TINY + '\n[forces]\nreference = "nope.extxyz"\n', "cannot read reference file"),
    "forces without reference": (TINY + '\n[forces]\n', "[forces]: missing field 'reference' (give the extxyz"),
    "missing formation reference": (TINY.replace('single_point = ["beta-Li3PS4"]', 'reference = "ref.csv"'),
                                    "[formation].reference: cannot read"),
    "bad formula in formation reference": (TINY.replace('single_point = ["beta-Li3PS4"]', 'reference = "bad-formula.csv"'),
                                           "[formation].reference: cannot read chemical formula 'Li7P3S11x'"),
    "uncovered elements": (ONLY_FORMATION.format(pot="li-s-only"), "elements ['P'] that the potential does not cover"),
    "missing model file": (ONLY_FORMATION.format(pot="needs-file"), "missing.snapcoeff (files.coeff) does not exist"),
    # the tracebacks of issue 10, now one line each
    "text in a structure list": (TINY.replace('structures = ["Li2S"]', 'structures = [1]'),
                                 "[formation].structures[0]: expected a string, got 1"),
    "text for a pair distance": (TINY.replace("natoms = 42", 'natoms = 42\nmin_distance_A = { "P-S" = "far" }'),
                                 "[robustness].min_distance_A.P-S: expected a number, got 'far'"),
    "unknown element in a pair": (TINY.replace("natoms = 42", 'natoms = 42\nmin_distance_A = { "P-Qq" = 2.0 }'),
                                  "[robustness].min_distance_A: unknown element symbol 'Qq'"),
    "pair without a default": (TINY.replace("natoms = 42", 'natoms = 40\nformula = "Na3PS4"'),
                               "no entry for pair Na-Na of Na3PS4"),
    "natoms not a multiple": (TINY.replace("natoms = 42", "natoms = 43"), "natoms = 43 is not a multiple of the 21"),
    "infinite duration": (TINY.replace("duration_ps = 0.1", "duration_ps = inf"),
                          "[conductivity].duration_ps: must be a finite number, got inf"),
    "nan temperature": (TINY.replace("temperatures_K = [600, 800]", "temperatures_K = [600, nan]"),
                        "[conductivity].temperatures_K[1]: must be a finite number, got nan"),
    "true for an integer": (TINY.replace("repeats = 1\ndump_interval_ps = 0.01\n\n[robustness]",
                                         "repeats = true\ndump_interval_ps = 0.01\n\n[robustness]"),
                            "[conductivity].repeats: expected an integer, got True"),
    "huge duration": (TINY.replace("duration_ps = 0.1", "duration_ps = 1e300"),
                      "[conductivity].duration_ps: must be at most 1000000 ps, got 1e+300"),
    "text for a pressure": (TINY.replace('"1 GPa"', '"high"'), "[robustness].pressures_Pa[1]: not a pressure: 'high'"),
    "empty potential name": (TINY.replace('"toy-morse"', '""'),
                                    "[campaign].potentials[0]: must not be empty"),
    "undefined template variable": (TINY.replace('seed = 7', 'seed = 7\ntemplates = "mytemplates"'),
                                    "'nonexistent_variable' is undefined"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_campaign_gives_one_line_and_writes_nothing(case, tmp_path):
    text, expected = CASES[case]
    (tmp_path / "potentials").mkdir()
    (tmp_path / "potentials" / "li-s-only.toml").write_text(BAD_POTENTIAL_ELEMENTS)
    (tmp_path / "potentials" / "needs-file.toml").write_text(MISSING_FILE_POTENTIAL)
    (tmp_path / "bad-formula.csv").write_text(BAD_FORMULA_REFERENCE)
    (tmp_path / "mytemplates").mkdir()
    (tmp_path / "mytemplates" / "conductivity.lammps.j2").write_text("run {{ nonexistent_variable }}\n")
    campaign = write_campaign(tmp_path, text)
    out = tmp_path / "out"
    result = harness("render", str(campaign), "--out", str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness: error: ")
    assert expected in lines[0]
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_missing_campaign_file(tmp_path):
    result = harness("render", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "cannot read campaign file" in result.stderr
    assert not (tmp_path / "out").exists()


def test_unwritable_output_directory(tmp_path):
    campaign = write_campaign(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = harness("render", str(campaign), "--out", str(blocker / "campaign"))
    assert result.returncode == 2
    assert "is not writable" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = harness("render", str(campaign), "--out", "/proc/harness-campaign")
    assert result.returncode == 2 and "not writable" in result.stderr


def test_launch_on_a_folder_that_is_not_a_campaign(tmp_path):
    result = harness("launch", str(tmp_path))
    assert result.returncode == 2 and "not a rendered campaign" in result.stderr


def test_unknown_field_in_potential_file(tmp_path):
    (tmp_path / "potentials").mkdir()
    (tmp_path / "potentials" / "typo.toml").write_text(BAD_POTENTIAL_ELEMENTS + 'pair_coef = ["x"]\n')
    campaign = write_campaign(tmp_path, ONLY_FORMATION.format(pot="typo"))
    result = harness("render", str(campaign), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "unknown field 'pair_coef'" in result.stderr


def test_potential_hash_mismatch(tmp_path):
    (tmp_path / "potentials").mkdir()
    (tmp_path / "potentials" / "f.table").write_text("x\n")
    (tmp_path / "potentials" / "hashed.toml").write_text(
        BAD_POTENTIAL_ELEMENTS.replace('"li-s-only"', '"hashed"') + f'[files.table]\npath = "f.table"\nsha256 = "{"0" * 64}"\n')
    campaign = write_campaign(tmp_path, '[campaign]\npotentials = ["hashed"]\n[formation]\nstructures = ["Li2S"]\n')
    result = harness("render", str(campaign), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "sha256 of" in result.stderr and "does not match" in result.stderr
