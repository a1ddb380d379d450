"""harness status: counts by state and per-run progress, read from the run directories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.resume import last_progress
from harness.rundir import load_manifest
from harness.runstate import lock_holder, read_status


def campaign_status(campaign_dir: Path) -> dict[str, Any]:
    manifest = load_manifest(campaign_dir)
    rows = []
    counts = {"pending": 0, "running": 0, "done": 0, "failed": 0}
    for run in manifest["runs"]:
        run_dir = campaign_dir / run["dir"]
        status = read_status(run_dir)
        state = status.get("state", "pending")
        holder = lock_holder(run_dir)
        if state == "running" and holder is None:
            state = "interrupted"   # its launcher is gone; the next launch resumes it
        counts[state] = counts.get(state, 0) + 1
        step = status.get("step", 0)
        if state == "running":
            step, _ = last_progress(run_dir)
        rows.append({"run_id": run["run_id"], "task": run["task"], "state": state, "step": step,
                     "nsteps": run["nsteps"], "time_ps": status.get("time_ps"), "reason": status.get("reason"),
                     "message": status.get("message"), "wall_s": status.get("wall_s"),
                     "host": holder.get("host") if holder else None})
    return {"campaign": manifest["campaign"], "counts": counts, "runs": rows}


def format_status(report: dict[str, Any]) -> str:
    counts = report["counts"]
    lines = [f"campaign {report['campaign']}: " + ", ".join(f"{n} {state}" for state, n in counts.items() if n)]
    width = max((len(r["run_id"]) for r in report["runs"]), default=10)
    lines.append(f"{'run':<{width}}  {'state':<11} {'progress':>17}  {'time_ps':>9}  reason")
    for r in report["runs"]:
        progress = f"{r['step']}/{r['nsteps']}"
        time_ps = f"{r['time_ps']:.3f}" if isinstance(r["time_ps"], (int, float)) else "-"
        why = f"{r['reason']}: {r['message']}" if r["reason"] else ""
        lines.append(f"{r['run_id']:<{width}}  {r['state']:<11} {progress:>17}  {time_ps:>9}  {why}")
    return "\n".join(lines)
