"""Helpers for the calculator-bridge tests: potential files of test calculators, tiny campaigns, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness_testlib import REPO, TINY

HERE = Path(__file__).resolve().parent
LJ_KWARGS = 'sigma = 1.9\nepsilon = 0.02\nrc = 5.0\nsmooth = true\n'


def env() -> dict[str, str]:
    """The environment of the CLI and of the runner it starts: the checkout and the test calculators importable."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)])}


def harness(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd or REPO, capture_output=True, text=True,
                          timeout=timeout, env=env())


def write_potential(folder: Path, name: str = "lj", target: str = "ase.calculators.lj:LennardJones",
                    kwargs: str = LJ_KWARGS, extra: str = "", calculator_extra: str = "") -> Path:
    (folder / "potentials").mkdir(parents=True, exist_ok=True)
    path = folder / "potentials" / f"{name}.toml"
    path.write_text(f'name = "{name}"\nkind = "calculator"\nelements = ["Li", "P", "S"]\n{extra}\n'
                    f'[calculator]\nimport = "{target}"\ndevice = "cpu"\n{calculator_extra}\n'
                    f'[calculator.kwargs]\n{kwargs}')
    return path


def campaign_text(potential: str = "lj", tasks: str | None = None) -> str:
    """TINY on ``potential``; ``tasks``: only these task tables (e.g. "conductivity")."""
    text = TINY.replace('"toy-morse"', f'"{potential}"')
    if tasks is None:
        return text
    head, *sections = text.split("\n[")
    keep = [s for s in sections if s.split("]")[0] in ["campaign", *tasks.split()]]
    return "\n[".join([head, *keep]) + "\n"
