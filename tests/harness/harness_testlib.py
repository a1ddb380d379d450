"""Helpers for the harness tests: tiny campaigns on the toy potential, real LAMMPS, real MPI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
MPIRUN = VENV_BIN / "mpirun"

TINY = """
[campaign]
name = "tiny"
potentials = ["toy-morse"]
seed = 7
restart_every_ps = 0.02
thermo_every_ps = 0.01
wall_time_s = 300

[conductivity]
supercell = [1, 1, 1]
temperatures_K = [600, 800]
duration_ps = 0.1
equilibration_ps = 0.01
repeats = 1
dump_interval_ps = 0.01

[robustness]
natoms = 42
temperatures_K = [1000]
pressures_Pa = [1e6, "1 GPa"]
duration_ps = 0.05
repeats = 1
dump_interval_ps = 0.01

[melt_quench]
supercell = [1, 1, 1]
T_high_K = 900
heating_rate_K_per_ps = 6000
quench_rate_K_per_ps = 6000
hold_ps = 0.02
dump_interval_ps = 0.05

[formation]
structures = ["Li2S"]
single_point = ["beta-Li3PS4"]
"""


def harness(*args: str, cwd: Path | None = None, timeout: float = 300, mpi: int = 0) -> subprocess.CompletedProcess:
    """Run the real command line (optionally under the real mpirun) and capture its output."""
    command = [sys.executable, "-m", "harness", *args]
    if mpi:
        command = [str(MPIRUN), "-n", str(mpi), *command]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout, env=env)


def write_campaign(folder: Path, text: str = TINY, name: str = "campaign.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def statuses(campaign_dir: Path) -> dict[str, dict]:
    manifest = json.loads((campaign_dir / "manifest.json").read_text())
    return {r["run_id"]: json.loads((campaign_dir / r["dir"] / "status.json").read_text()) for r in manifest["runs"]}

