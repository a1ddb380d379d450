"""provenance.json of a run attempt: which harness (version and git commit), host, process, Python, LAMMPS build,
potential files and seed produced it, with the launch's choices (accelerator flags, GPU, ranks, resume step)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import __version__
from harness.lammps_env import LammpsBuild
from harness.rundir import write_json_atomic
from harness.runstate import now_iso

PROVENANCE_NAME = "provenance.json"


def git_hash() -> str:
    """The commit of the checkout, or the one scripts/setup.sh recorded in the installed package."""
    root = Path(__file__).resolve().parent.parent
    recorded = Path(__file__).resolve().parent / "GIT_COMMIT"
    if not (root / ".git").exists():
        return recorded.read_text().strip() if recorded.is_file() else "unknown"
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


_GIT_HASH = git_hash()


def write_provenance(run_dir: Path, run_record: dict[str, Any], manifest: dict[str, Any], build: LammpsBuild,
                     extra: dict[str, Any]) -> dict[str, Any]:
    """Write the provenance of an attempt that is starting; ``extra``: the launch's choices for it."""
    potential = manifest["potentials"].get(run_record["potential"], {})
    data = {
        "harness_version": __version__, "harness_git": _GIT_HASH, "host": socket.gethostname(), "pid": os.getpid(),
        "started": now_iso(), "python": sys.version.split()[0],
        "lammps": {"executable": build.executable, "version": build.version, "origin": build.origin,
                   "packages": list(build.packages)},
        "potential": {"name": run_record["potential"], "files": potential.get("files", {})},
        "seed": run_record.get("seed"), **extra,
    }
    write_json_atomic(run_dir / PROVENANCE_NAME, data)
    return data


def record_finish(run_dir: Path, wall_s: float) -> None:
    """Add when the attempt ended and how long it took."""
    provenance = json.loads((run_dir / PROVENANCE_NAME).read_text())
    provenance.update(finished=now_iso(), wall_s=wall_s)
    write_json_atomic(run_dir / PROVENANCE_NAME, provenance)
