"""Helpers for the MACE tests: a tiny random-weight MACE model, its ML-IAP potential, the ML-IAP LAMMPS build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LMP = os.environ.get("HARNESS_MLIAP_LMP") or str(REPO / ".lammps-mliap" / "bin" / "lmp")


def have_mace() -> bool:
    try:
        import mace  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def require_build() -> str:
    """The ML-IAP LAMMPS; skipped when absent, except in CI (scripts/test.sh builds it there)."""
    if not Path(LMP).is_file():
        message = f"no ML-IAP LAMMPS at {LMP}: run `harness build-lammps` (scripts/test.sh does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return LMP


def harness(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 900,
            mpi: int = 0) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "harness", *args]
    if mpi:
        command = [str(Path(sys.executable).parent / "mpirun"), "-n", str(mpi), *command]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(command, cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout, env=full_env)
