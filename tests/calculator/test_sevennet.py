"""SevenNet-0 (potentials/sevennet-0.toml) in its own environment .venvs/sevenn: `harness potentials check` runs the
runner and the ASE reference in that interpreter (sevenn needs e3nn>=0.5; the main venv has MACE's e3nn 0.4.4)."""

import json
import os
import shutil

import pytest

from calc_testlib import harness
from harness.calculator_launch import envs_dir
from harness_testlib import REPO

PYTHON = envs_dir() / "sevenn" / "bin" / "python"

if not PYTHON.is_file():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"tests/calculator: {PYTHON} missing in CI (scripts/test.sh runs `harness env create sevenn`)")
    pytest.skip(f"no {PYTHON} (create it with `harness env create sevenn`)", allow_module_level=True)


def test_check_sevennet_in_its_own_environment(tmp_path):
    (tmp_path / "potentials").mkdir()
    path = tmp_path / "potentials" / "sevennet-0.toml"
    shutil.copy(REPO / "potentials" / "sevennet-0.toml", path)
    result = harness("potentials", "check", str(path), timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"in {PYTHON}" in result.stdout
    record = json.loads(path.with_name("sevennet-0.check.json").read_text())
    assert record["passed"] and record["python"] == str(PYTHON)
    for cell in record["cells"]:
        assert cell["df_ev_per_a"] <= 1e-5 and (cell["pressure_bar"] > 0) == (cell["pressure_fd_bar"] > 0)
    # the other environment really is another one: MACE's e3nn 0.4.4 here, sevenn's e3nn there
    import subprocess
    there = subprocess.run([str(PYTHON), "-c", "import e3nn; print(e3nn.__version__)"], capture_output=True, text=True)
    assert there.stdout.strip().split(".")[:2] != ["0", "4"]
