"""What ``harness analyze`` writes to CAMPAIGN/results/ and the settings it writes it with: :class:`Options`, the
:class:`Summary` every task adds notes and numbers to, a task's :class:`ResultTable` and the writers (CSV and JSON,
atomic through harness.rundir: a reader never sees half a file). Column meanings: docs/results.md."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.contacts import DEFAULT_THRESHOLD_A
from analysis.jumps import DEFAULT_CAPTURE_RADIUS_A
from analysis.meltquench import DEFAULT_CUTOFF_A
from harness.rundir import write_text_atomic

SUMMARY_NAME = "summary.json"    # results/summary.json: run counts, failed runs, options, each task's numbers, notes


@dataclass
class Options:
    """Analysis settings: fit window (ps, None = default), blocks, contact threshold (Å), literature band,
    reference CSV for formation energies, Li site capture radius (Å, jumps), P-S cutoff (Å, melt-quench)."""

    fit_start_ps: float | None = None
    fit_end_ps: float | None = None
    n_blocks: int = 5
    threshold_A: float = DEFAULT_THRESHOLD_A
    band: str = "crystal"
    formation_reference: Path | None = None
    capture_radius_A: float = DEFAULT_CAPTURE_RADIUS_A
    coordination_cutoff_A: float = DEFAULT_CUTOFF_A
    snapshots: bool = True    # OVITO pictures of robustness and melt-quench frames (analysis/snapshots.py)


@dataclass
class Summary:
    """What goes into results/summary.json besides the run counts: notes for the reader and each task's numbers
    (``data``, one top-level key per entry)."""

    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResultTable:
    """One results/*.csv: its file name, its columns in order and its rows (missing keys are empty cells)."""

    name: str
    columns: list[str]
    rows: list[dict[str, Any]]


def _fmt(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(float(value)) else f"{float(value):.8g}"
    return value


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> Path:
    """Rows as CSV, only ``columns`` in their order (floats to 8 significant figures, booleans as true/false,
    None and non-finite as empty cells), written atomically."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _fmt(row.get(c)) for c in columns})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text.getvalue())
    return path


def json_safe(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN and infinities to null."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    return value


def write_summary(path: Path, document: dict[str, Any]) -> Path:
    """results/summary.json: ``document`` made JSON-safe, indented by 2, written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(json_safe(document), indent=2) + "\n")
    return path
