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

def tiny_campaign(name: str = "tiny", potentials: tuple[str, ...] = ("toy-morse",), seed: int = 7,
                  restart_every_ps: float = 0.02, conductivity_duration_ps: float = 0.1,
                  structures: tuple[str, ...] = ("Li2S",), single_point: tuple[str, ...] = ("beta-Li3PS4",),
                  forces_reference: Path | None = None) -> str:
    """The tiny campaign (every task at toy sizes) as TOML text; the defaults give TINY."""
    def names(items: tuple[str, ...]) -> str:
        return "[" + ", ".join(f'"{item}"' for item in items) + "]"

    forces = f'\n[forces]\nreference = "{forces_reference}"\n' if forces_reference else ""
    formation = f"structures = {names(structures)}\n"
    if single_point:
        formation += f"single_point = {names(single_point)}\n"
    return f"""
[campaign]
name = "{name}"
potentials = {names(potentials)}
seed = {seed}
restart_every_ps = {restart_every_ps}
thermo_every_ps = 0.01
wall_time_s = 300

[conductivity]
supercell = [1, 1, 1]
temperatures_K = [600, 800]
duration_ps = {conductivity_duration_ps}
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
{forces}
[formation]
{formation}"""


TINY = tiny_campaign()


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

