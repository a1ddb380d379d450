"""`harness env create NAME`: the Python environment a calculator potential names (``calculator.python = NAME``),
made from the pinned requirements-NAME.txt of the checkout: .venvs/NAME (or $HARNESS_ENVS/NAME).

Each MLIP stack pins its own torch/e3nn (SevenNet needs e3nn>=0.5, MACE pins e3nn==0.4.4), so models that cannot
share one environment each get their own; the launcher, `harness potentials check` and the hand-run command of a
run folder all use that environment's interpreter. torch is installed first and alone, so that pip keeps the CPU
(or the locally provided) wheel, then the rest of the file. A stamp with the requirements' sha256 makes a second
`create` a no-op until the file changes.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

from harness.calculator_launch import envs_dir
from harness.errors import HarnessError

STAMP = "harness-env.sha256"


def requirements_for(name: str) -> Path:
    path = Path(__file__).resolve().parent.parent / f"requirements-{name}.txt"
    if not path.is_file():
        path = Path.cwd() / f"requirements-{name}.txt"
    if not path.is_file():
        raise HarnessError(f"environment {name}: no requirements-{name}.txt in the checkout or here; give --requirements")
    return path


def create_env(name: str, requirements: Path | None = None, force: bool = False, log=print) -> Path:
    """Create (or bring up to date) the environment NAME; returns its interpreter."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise HarnessError(f"environment name {name!r}: use letters, digits, '-', '_' or '.'")
    requirements = requirements or requirements_for(name)
    text = requirements.read_text()
    digest = hashlib.sha256(text.encode()).hexdigest()
    target = envs_dir() / name
    python = target / "bin" / "python"
    stamp = target / STAMP
    if not force and python.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        log(f"environment {name}: up to date ({target})")
        return python
    pins = [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]
    torch = [p for p in pins if re.match(r"torch\s*==", p)]
    steps = [[sys.executable, "-m", "venv", str(target)]]
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if torch:
        steps.append([*pip, *torch])
    steps.append([*pip, "-r", str(requirements)])
    stamp.unlink(missing_ok=True)
    for step in steps:
        log("$ " + " ".join(step))
        if subprocess.call(step) != 0:
            raise HarnessError(f"environment {name}: `{' '.join(step)}` failed")
    stamp.write_text(digest + "\n")
    log(f"environment {name}: ready ({python})")
    return python
