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
