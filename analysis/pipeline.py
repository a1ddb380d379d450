"""A whole campaign: manifest.json + runs/*/ -> results/*.csv and results/summary.json.

Reads only the files described in docs/run-directory.md (through analysis/runs.py); the columns written are
documented in docs/results.md. Each task of the registry (analysis/tasks/) analyses the runs it consumes and
names its tables; this module writes them, renders the OVITO pictures the tasks ask for and writes summary.json.
Runs that failed or are unfinished are reported in the tables and in summary.json, never silently dropped. Only
the tables of tasks present in the manifest are written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analysis import snapshots
from analysis.results import SUMMARY_NAME, Options, Summary, write_csv, write_summary
from analysis.runs import RunInfo, load_runs
from analysis.tasks import TASKS
from harness.rundir import RESULTS_DIR, count_states


def analyze_campaign(campaign_dir: Path, options: Options | None = None) -> list[Path]:
    """Analyse every run of a campaign; write results/*.csv and results/summary.json; return the paths."""
    options = options or Options()
    campaign_dir = Path(campaign_dir)
    manifest, runs = load_runs(campaign_dir)
    results = campaign_dir / RESULTS_DIR
    summary = Summary()
    written: list[Path] = []
    by_task: dict[str, list[RunInfo]] = {}
    for run in runs:
        by_task.setdefault(run.task, []).append(run)
    shots: list[snapshots.Shot] = []
    for task in TASKS:
        mine = [run for name in task.consumes for run in by_task.get(name, [])]
        if not mine:
            continue
        output = task.analyze(campaign_dir, mine, options, summary)
        for table in output.tables:
            written.append(write_csv(results / table.name, table.columns, table.rows))
        shots += output.shots
    if options.snapshots and shots:
        written.append(_write_snapshots(shots, results, runs, summary))
    other = sorted(set(by_task) - {name for task in TASKS for name in task.consumes})
    if other:
        summary.notes.append(f"tasks not analysed here: {', '.join(other)}")
    document = {
        "campaign": manifest.get("campaign"), "campaign_sha256": manifest.get("campaign_sha256"),
        "potentials": sorted({r.potential for r in runs}), "tasks": sorted(by_task),
        "runs_by_state": count_states(r.state for r in runs),
        "failed_runs": [{"run_id": r.run_id, "task": r.task, "potential": r.potential,
                         "reason": r.status.get("reason"), "message": r.status.get("message"),
                         "time_ps": r.status.get("time_ps")} for r in runs if r.state == "failed"],
        "unfinished_runs": [r.run_id for r in runs if r.state in ("pending", "running")],
        "options": _options(options),
        **summary.data,
        "notes": summary.notes,
        "files": [p.name for p in written],
    }
    written.append(write_summary(results / SUMMARY_NAME, document))
    return written


def _write_snapshots(shots: list[snapshots.Shot], results: Path, runs: list[RunInfo], summary: Summary) -> Path:
    """results/snapshots/*.png (the old pictures removed first) and their index results/snapshots.csv."""
    for old in (results / "snapshots").glob("*.png"):
        old.unlink()
    rows, notes = snapshots.write_snapshots(shots, results / "snapshots", {r.run_id: r.state for r in runs})
    summary.notes.extend(notes)
    return write_csv(results / "snapshots.csv", snapshots.SNAPSHOT_COLUMNS, rows)


def _options(options: Options) -> dict[str, Any]:
    return {"fit_start_ps": options.fit_start_ps, "fit_end_ps": options.fit_end_ps, "n_blocks": options.n_blocks,
            "threshold_A": options.threshold_A, "band": options.band, "capture_radius_A": options.capture_radius_A,
            "coordination_cutoff_A": options.coordination_cutoff_A, "snapshots": options.snapshots}
