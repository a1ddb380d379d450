"""The runs of a rendered campaign as analyze sees them: the manifest's entries with their run.json and status.json,
read through the run-directory contract (harness.rundir; docs/run-directory.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.errors import AnalysisError
from harness.rundir import MANIFEST_NAME, RUN_SPEC_NAME, RUNS_DIR, load_manifest, read_json, read_status


@dataclass
class RunInfo:
    """A run of the manifest with its run.json and status.json (state 'pending' when status.json is absent)."""

    run_id: str
    task: str
    potential: str
    directory: Path
    spec: dict[str, Any]
    status: dict[str, Any]

    @property
    def params(self) -> dict[str, Any]:
        return self.spec.get("params", {})

    @property
    def state(self) -> str:
        return str(self.status.get("state", "pending"))

    @property
    def repeat(self) -> int:
        return int(self.spec.get("repeat", 1))


def load_runs(campaign_dir: Path) -> tuple[dict[str, Any], list[RunInfo]]:
    """The manifest and its runs. An absent folder, an absent or empty manifest or a missing run.json is an
    error; a run without a readable status.json is pending (harness.rundir.read_status)."""
    if not campaign_dir.is_dir():
        raise AnalysisError(f"campaign directory not found: {campaign_dir}")
    manifest = load_manifest(campaign_dir)
    entries = manifest.get("runs") or []
    if not entries:
        raise AnalysisError(f"{campaign_dir / MANIFEST_NAME} lists no runs: nothing to analyse")
    runs = []
    for entry in entries:
        directory = campaign_dir / entry.get("dir", f"{RUNS_DIR}/{entry['run_id']}")
        spec = read_json(directory / RUN_SPEC_NAME)
        runs.append(RunInfo(run_id=entry["run_id"], task=entry.get("task", spec.get("task", "")),
                            potential=entry.get("potential", spec.get("potential", "")), directory=directory,
                            spec=spec, status=read_status(directory)))
    return manifest, runs


def failure_text(run: RunInfo) -> str:
    """'reason: message' of a run's status.json ('' when it has neither)."""
    parts = [p for p in (run.status.get("reason"), run.status.get("message")) if p]
    return ": ".join(str(p) for p in parts)
