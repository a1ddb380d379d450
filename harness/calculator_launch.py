"""What `harness launch` needs for calculator potentials (harness/calculator.py), without importing pydantic or
numpy: the runner's interpreter and command line. Their GPU binding is in harness/devices.py, the gate on their
recorded check in harness/preflight.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

RUNNER_NAME = "runner.py"


def envs_dir() -> Path:
    """Where `harness env create NAME` puts environments: $HARNESS_ENVS, else .venvs/ in the checkout (or cwd)."""
    if os.environ.get("HARNESS_ENVS"):
        return Path(os.environ["HARNESS_ENVS"])
    checkout = Path(__file__).resolve().parent.parent
    return checkout / ".venvs" if (checkout / "setup.cfg").is_file() else Path.cwd() / ".venvs"


def interpreter_for(python: str | None, source: Path | None = None) -> str:
    """The Python that runs a calculator: the named environment's (.venvs/NAME), a given interpreter (a path,
    relative to the potential file), or the harness's own."""
    if not python:
        return sys.executable
    if "/" not in python:
        path = envs_dir() / python / "bin" / "python"
        if not path.is_file():
            raise HarnessError(f"calculator environment {python!r} does not exist ({path}); create it with "
                               f"`harness env create {python}`")
        return str(path)
    path = Path(python).expanduser()
    if not path.is_absolute() and source is not None:
        path = source.parent / path
    if not path.is_file():
        raise HarnessError(f"calculator.python: interpreter {path} does not exist")
    return str(path.absolute())


def _entry(manifest: dict[str, Any], potential: str) -> dict[str, Any]:
    return manifest["potentials"].get(potential, {})


def child_command(manifest: dict[str, Any], run: dict[str, Any]) -> list[str] | None:
    """The runner command of a run of a calculator potential (None for other potentials)."""
    entry = _entry(manifest, run["potential"])
    if entry.get("kind") != "calculator":
        return None
    source = Path(entry["source"]) if entry.get("source") else None
    recorded = entry["calculator"].get("interpreter")   # an installed harness run from another folder finds it so
    if recorded and Path(recorded).is_file():
        return [recorded, "-u", RUNNER_NAME]
    return [interpreter_for(entry["calculator"].get("python"), source), "-u", RUNNER_NAME]
