"""bench/gpu_check.py on the CPU at tiny size: the same code path the GPU machine runs (model conversion, parity
with ASE, concurrent runs behind a barrier, the table), so its logic is tested here without a GPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LMP = REPO / ".lammps-mliap" / "bin" / "lmp"


def _missing() -> str | None:
    import importlib.util
    for module in ("torch", "mace", "ase"):
        if importlib.util.find_spec(module) is None:
            return f"{module} not installed (requirements-mace.txt)"
    if not LMP.exists():
        return f"{LMP} missing (harness build-lammps)"
    return None


def test_gpu_check_runs_on_cpu_at_tiny_size(tmp_path):
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    result = subprocess.run([sys.executable, str(REPO / "bench" / "gpu_check.py"), "--device", "cpu", "--tiny",
                             "--lmp", str(LMP), "--json", str(tmp_path / "gpu.json")],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| what |")
    parity = next(line for line in table if line.startswith("| parity"))
    assert parity.endswith("(ok) |"), parity
    concurrent = [line for line in table if "concurrent run(s)" in line]
    assert len(concurrent) == 2                                       # --tiny: 1 and 2 runs
    assert any("calculator" in line for line in table)                # the optional row says what it did
    numbers = json.loads((tmp_path / "gpu.json").read_text())
    assert numbers["parity_dE_eV_per_atom"] < 1e-6 and numbers["parity_dF_eV_per_A"] < 1e-5
    assert numbers["lammps_1_runs_atom_steps_per_s"] > 0 and numbers["lammps_2_runs_atom_steps_per_s"] > 0
