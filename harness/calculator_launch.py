"""What `harness launch` needs for calculator potentials (harness/calculator.py), without importing pydantic or
numpy: the runner's command line and interpreter, the GPU binding, and the gate on the recorded check."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.rundir import sha256_of

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


def device_environment(manifest: dict[str, Any], potential: str, gpus: list[str], group: int) -> dict[str, str]:
    """CUDA_VISIBLE_DEVICES for a calculator run: one GPU per launcher group, round robin; none for device cpu."""
    entry = _entry(manifest, potential)
    if entry.get("kind") != "calculator" or not gpus:
        return {}
    if entry["calculator"].get("device") == "cpu":
        return {"CUDA_VISIBLE_DEVICES": ""}
    return {"CUDA_VISIBLE_DEVICES": gpus[group % len(gpus)]}


# ------------------------------------------------------------------------------------------ the recorded check

def check_record_path(source: Path) -> Path:
    return source.with_name(f"{source.stem}.check.json")


def fingerprint(source: Path, files: dict[str, Path]) -> dict[str, str]:
    """What a recorded check is valid for: the potential file, its model files and the runner's code."""
    prints = {"toml": sha256_of(source), "runner": sha256_of(Path(__file__).with_name("calculator_runner.py"))}
    for key, path in sorted(files.items()):
        prints[f"files.{key}"] = sha256_of(path) if path.is_file() else "missing"
    return prints


def check_status(source: Path, files: dict[str, Path]) -> tuple[bool, str]:
    """(passed, why) from the recorded `harness potentials check`; a stale record counts as never run."""
    path = check_record_path(source)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return False, f"its check never ran (run `harness potentials check {source}`)"
    if record.get("fingerprint") != fingerprint(source, files):
        return False, f"it changed since the check recorded in {path} (run `harness potentials check {source}` again)"
    if not record.get("passed"):
        return False, f"its check failed: {record.get('reason', 'see ' + str(path))}"
    return True, "check passed"


def launch_gate(manifest: dict[str, Any], force_unchecked: bool) -> list[str]:
    """Refuse calculator potentials whose check failed, never ran or is stale, unless ``force_unchecked``."""
    warnings = []
    for name, entry in manifest.get("potentials", {}).items():
        if entry.get("kind") != "calculator" or not entry.get("source"):
            continue
        source = Path(entry["source"])
        files = {k: source.parent / f["path"] for k, f in entry.get("calculator", {}).get("files", {}).items()}
        passed, why = check_status(source, files)
        if passed:
            continue
        if not force_unchecked:
            raise HarnessError(f"refusing potential {name}: {why}; or launch with --force-unchecked")
        warnings.append(f"potential {name}: {why}; launching anyway (--force-unchecked)")
    return warnings
