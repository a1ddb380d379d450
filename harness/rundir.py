"""The run-directory contract shared by both halves of the project (the core): what a rendered campaign folder
holds, under which names, and the few helpers every step uses to read and write it.

    CAMPAIGN/manifest.json          written by render: the campaign, its potentials and one entry per run
    CAMPAIGN/runs/RUN_ID/run.json   written by render: what the run is (task, potential, parameters, seed)
    CAMPAIGN/runs/RUN_ID/status.json  written by launch: state (STATES), reason (REASONS), times, message
    CAMPAIGN/results/*.csv, *.json  written by analyze;   CAMPAIGN/report/  written by report

harness/ (render, launch) writes these files and analysis/ reads them; neither imports the other to do so. Every
write is atomic (a temporary file in the same folder, then a rename), so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

MANIFEST_NAME = "manifest.json"
RUN_SPEC_NAME = "run.json"
STATUS_NAME = "status.json"
RUNS_DIR = "runs"
RESULTS_DIR = "results"
REPORT_DIR = "report"

STATES = ("pending", "running", "done", "failed")
REASONS = ("lammps_error", "lost_atoms", "non_finite", "wall_time", "crashed", "io_error", "calculator_error")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to a temporary file beside ``path``, flush it to disk, then rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """``data`` as indented JSON, written atomically (see write_text_atomic)."""
    write_text_atomic(path, json.dumps(data, indent=1) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file the contract promises; a missing or damaged one is a one-line HarnessError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"missing {path}") from None
    except json.JSONDecodeError as error:
        raise HarnessError(f"{path} is damaged (not valid JSON: {error.msg}, line {error.lineno})") from None


def load_manifest(campaign_dir: Path) -> dict[str, Any]:
    """The manifest of a rendered campaign folder."""
    path = campaign_dir / MANIFEST_NAME
    if not path.is_file():
        raise HarnessError(f"{campaign_dir} is not a rendered campaign (no {MANIFEST_NAME}); run `harness render` first")
    return read_json(path)


def read_status(run_dir: Path) -> dict[str, Any]:
    """A run's status.json; {} (pending) where there is none yet or it cannot be read."""
    try:
        return json.loads((run_dir / STATUS_NAME).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def count_states(states: Iterable[str]) -> dict[str, int]:
    """How many runs are in each of STATES (every state present, 0 where none), plus any unknown state seen."""
    counts = Counter(states)
    return {state: counts.get(state, 0) for state in STATES} | {s: n for s, n in counts.items() if s not in STATES}
