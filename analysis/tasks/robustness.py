"""Task 4, robustness: the ``robustness`` runs (random cells pushed to high temperature and pressure) ->
results/robustness.csv (one row per condition: survival, times to failure, close-contact frames, the fixed-cell
relaxation) and results/robustness_runs.csv (one row per run), and OVITO pictures at one condition per potential;
and the report's part: conditions fully surviving and close-contact frames per potential, the survival
map (one panel per potential, like the paper's Fig. 4) and the per-condition table."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from analysis import snapshots
from analysis.contacts import iter_frame_contacts
from analysis.errors import AnalysisError
from analysis.report_parts import (
    Cell, Column, Figure, ReportData, Section, curated_table, full_table, is_missing, join_words, number, plural,
    SNAPSHOT_WORDS, save)
from analysis.results import Options, ResultTable, Summary
from analysis.robustness import FrameCounts, RobustnessRun, group_conditions, md_frame_counts, read_relax_record
from analysis.runs import RunInfo, failure_text
from analysis.tasks.task import Task, TaskResults
from harness.units import PA_PER_GPA, fs_to_ps

ROBUSTNESS_COLUMNS = [
    "potential", "temperature_K", "pressure_Pa", "pressure_GPa", "n_repeats", "n_survived", "n_failed",
    "n_unfinished", "n_incomplete", "survival", "times_to_failure_ps", "failure_reasons", "incomplete_reasons",
    "n_frames", "n_contact_frames", "close_contact_percent", "close_contact_label", "min_distance_A", "threshold_A",
    "n_relaxed", "n_relax_converged", "relax_iterations", "relax_max_force_eV_per_A"]
ROBUSTNESS_RUN_COLUMNS = [
    "potential", "temperature_K", "pressure_Pa", "repeat", "run_id", "state", "reason", "outcome", "time_reached_ps",
    "n_frames", "n_contact_frames", "min_distance_A", "relax_converged", "relax_iterations", "relax_max_iterations",
    "relax_max_force_eV_per_A", "relax_force_norm_eV_per_A", "message"]


# -- analysis: runs -> results/robustness.csv, results/robustness_runs.csv -----------------------------
def robustness_table(runs: list[RunInfo], options: Options, summary: Summary,
                     run_rows: list[dict] | None = None) -> list[dict]:
    """One row per condition; ``run_rows`` (if given) receives one row per run. Only MD frames after t = 0
    are counted (see analysis/robustness.py)."""
    records = []
    for run in runs:
        params = run.params
        timestep_ps = fs_to_ps(float(params["timestep_fs"]))
        counts = FrameCounts()
        message = failure_text(run) or None
        trajectory = run.directory / "traj.lammpstrj"
        if trajectory.is_file() and trajectory.stat().st_size > 0 and run.state in ("done", "failed"):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    counts = md_frame_counts(iter_frame_contacts(trajectory, timestep_ps, options.threshold_A,
                                                                 allow_truncated=(run.state == "failed")))
            except AnalysisError as error:
                summary.notes.append(f"{run.run_id}: {error}")
                message = f"analysis failed: {error}"
        time_reached = run.status.get("time_ps")
        if time_reached is None:
            time_reached = counts.last_time_ps if run.state == "failed" else None
        records.append(RobustnessRun(
            run_id=run.run_id, potential=run.potential, temperature_K=float(params["temperature_K"]),
            pressure_Pa=float(params["pressure_Pa"]), repeat=run.repeat, state=run.state,
            reason=run.status.get("reason"), duration_ps=float(params.get("duration_ps", math.nan)),
            time_reached_ps=None if time_reached is None else float(time_reached), n_frames=counts.n_frames,
            n_contact_frames=counts.n_contact_frames, min_distance_A=counts.min_distance_A, message=message,
            relax=read_relax_record(run.directory)))
    rows = []
    for condition in group_conditions(records):
        fraction = condition.close_contact_fraction
        relaxed = [r.relax for r in condition.runs if r.relax is not None]
        rows.append({
            "potential": condition.potential, "temperature_K": condition.temperature_K,
            "pressure_Pa": condition.pressure_Pa, "pressure_GPa": condition.pressure_Pa / PA_PER_GPA,
            "n_repeats": condition.n_repeats, "n_survived": condition.n_survived, "n_failed": condition.n_failed,
            "n_unfinished": condition.n_unfinished, "n_incomplete": condition.n_incomplete,
            "survival": condition.survival,
            "times_to_failure_ps": ";".join(f"{t:.6g}" for t in condition.times_to_failure_ps),
            "failure_reasons": ";".join(str(r.reason or "unknown") for r in condition.runs if r.failed),
            "incomplete_reasons": ";".join(str(r.reason or "unknown") for r in condition.runs if r.incomplete),
            "n_frames": condition.n_frames, "n_contact_frames": condition.n_contact_frames,
            "close_contact_percent": None if fraction is None else 100.0 * fraction,
            "close_contact_label": condition.close_contact_label,
            "min_distance_A": min((r.min_distance_A for r in condition.runs), default=math.inf),
            "threshold_A": options.threshold_A,
            "n_relaxed": len(relaxed), "n_relax_converged": condition.n_relax_converged,
            "relax_iterations": ";".join(str(r.iterations) for r in relaxed),
            "relax_max_force_eV_per_A": ";".join(f"{r.max_force_eV_per_A:.6g}" for r in relaxed)})
        if run_rows is not None:
            for r in condition.runs:
                run_rows.append({
                    "potential": r.potential, "temperature_K": r.temperature_K, "pressure_Pa": r.pressure_Pa,
                    "repeat": r.repeat, "run_id": r.run_id, "state": r.state, "reason": r.reason,
                    "outcome": r.outcome, "time_reached_ps": r.time_reached_ps, "n_frames": r.n_frames,
                    "n_contact_frames": r.n_contact_frames, "min_distance_A": r.min_distance_A,
                    "relax_converged": None if r.relax is None else r.relax.converged,
                    "relax_iterations": None if r.relax is None else r.relax.iterations,
                    "relax_max_iterations": None if r.relax is None else r.relax.max_iterations,
                    "relax_max_force_eV_per_A": None if r.relax is None else r.relax.max_force_eV_per_A,
                    "relax_force_norm_eV_per_A": None if r.relax is None else r.relax.force_norm_eV_per_A,
                    "message": r.message})
    return rows


def analyze(campaign_dir: Path, runs: list[RunInfo], options: Options, summary: Summary) -> TaskResults:
    run_rows: list[dict] = []
    rows = robustness_table(runs, options, summary, run_rows)
    return TaskResults([ResultTable("robustness.csv", ROBUSTNESS_COLUMNS, rows),
                        ResultTable("robustness_runs.csv", ROBUSTNESS_RUN_COLUMNS, run_rows)],
                       snapshots.robustness_shots(runs))


# -- report: results/ -> scorecard cell and section ---------------------------------------------------
SURVIVAL_COLOURS = {"all": "#2e8b57", "some": "#b5e3b5", "none": "#ffffff", "incomplete": "#d9d9d9"}
SURVIVAL_WORDS = {"all": "all survived", "some": "some survived", "none": "none survived",
                  "incomplete": "unfinished"}
PANELS_PER_ROW = 3


def _threshold(table: pd.DataFrame) -> str:
    if "threshold_A" in table.columns and table["threshold_A"].notna().any():
        return f"{number(table['threshold_A'].dropna().iloc[0])} Å"
    return "the contact threshold"


def cell(data: ReportData, potential: str) -> Cell:
    table = data.table("robustness.csv")
    mine = table[table["potential"] == potential] if table is not None else pd.DataFrame()
    if mine.empty:
        return Cell("not run", "no robustness runs for this potential", "missing")
    survival = mine["survival"].astype(str)
    n_all, n = int((survival == "all").sum()), len(mine)
    n_unfinished = int((survival == "incomplete").sum())
    tone = "good" if n_all == n else "bad" if n_all == 0 else "mixed"
    frames = int(mine["n_frames"].fillna(0).sum()) if "n_frames" in mine.columns else 0
    contacts = int(mine["n_contact_frames"].fillna(0).sum()) if "n_contact_frames" in mine.columns else 0
    if frames:
        detail = (f"close contacts (≤ {_threshold(mine)}) in {number(100.0 * contacts / frames, 2)}% of "
                  f"{plural(frames, 'frame')}")
    else:
        detail = "no frames written: close contacts not counted"
    if n_unfinished:
        detail += f"; {plural(n_unfinished, 'condition')} unfinished"
        tone = "missing" if n_unfinished == n else tone
    lost = n - n_all - n_unfinished
    verdict = f"{plural(lost, 'condition')} lost a repeat" if lost else (
        "every repeat survived" if not n_unfinished else "no finished condition lost a repeat")
    return Cell(f"{n_all} of {plural(n, 'condition')} fully survived", verdict, tone, detail)


def robustness_figure(table: pd.DataFrame, path: Path) -> Path:
    """Survival on the (T, p) grid, one panel per potential (at most three in a row), close-contact
    percentages in the cells."""
    potentials = sorted(table["potential"].unique())
    ncols = min(PANELS_PER_ROW, len(potentials))
    nrows = math.ceil(len(potentials) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols + 0.8, 3.3 * nrows + 0.7), squeeze=False)
    for ax in axes.flat[len(potentials):]:
        ax.set_visible(False)
    for ax, potential in zip(axes.flat, potentials):
        mine = table[table["potential"] == potential]
        temps = sorted(mine["temperature_K"].unique())
        pressures = sorted(mine["pressure_Pa"].unique())
        for _, row in mine.iterrows():
            i, j = temps.index(row["temperature_K"]), pressures.index(row["pressure_Pa"])
            ax.add_patch(plt.Rectangle((i - 0.5, j - 0.5), 1, 1, edgecolor="0.5",
                                       facecolor=SURVIVAL_COLOURS.get(str(row["survival"]), "w")))
            label = row.get("close_contact_label")
            ax.text(i, j, label if isinstance(label, str) and label.strip() else "–", ha="center", va="center",
                    fontsize=9, color="white" if str(row["survival"]) == "all" else "black")
        ax.set_xlim(-0.5, len(temps) - 0.5)
        ax.set_ylim(-0.5, len(pressures) - 0.5)
        ax.set_xticks(range(len(temps)), [number(t) for t in temps], rotation=45, fontsize=8)
        ax.set_yticks(range(len(pressures)), [number(p, 2) for p in pressures], fontsize=8)
        ax.set_xlabel("T (K)")
        ax.set_ylabel("p (Pa)")
        ax.set_title(potential, fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, facecolor=c, edgecolor="0.5") for c in SURVIVAL_COLOURS.values()]
    legend_rows = 2 if ncols == 1 else 1
    fig.legend(handles, list(SURVIVAL_WORDS.values()), loc="lower center", ncol=4 // legend_rows, fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.35 * legend_rows / (3.3 * nrows + 0.7), 1, 1))
    return save(fig, path)


def _list_words(value: object) -> str:
    """'0.35;0.4' or 'lost_atoms;lost_atoms' as '0.35, 0.4' / 'lost atoms, lost atoms'."""
    if is_missing(value) or not str(value).strip():
        return "–"
    parts = [p.replace("_", " ") for p in str(value).split(";") if p]
    return ", ".join(number(float(p), 3) if _is_number(p) else p for p in parts)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def section(data: ReportData) -> Section | None:
    table = data.table("robustness.csv")
    if table is None or table.empty:
        return None
    figure = robustness_figure(table, data.out_dir / "robustness.png")
    frame = table.copy()
    frame["survived"] = [f"{number(r.n_survived)} of {number(r.n_repeats)}" for r in frame.itertuples()]
    frame["survival_words"] = [SURVIVAL_WORDS.get(str(s), str(s)) for s in frame["survival"]]
    if "pressure_GPa" not in frame.columns:
        frame["pressure_GPa"] = frame["pressure_Pa"] / 1e9
    for key in ("times_to_failure_ps", "failure_reasons"):
        if key in frame.columns:
            frame[key] = [_list_words(v) for v in frame[key]]
    if "min_distance_A" in frame.columns:
        frame["min_distance_A"] = [v if not is_missing(v) and math.isfinite(v) else None
                                   for v in pd.to_numeric(frame["min_distance_A"], errors="coerce")]
    columns = [Column("potential", "potential"), Column("temperature_K", "T (K)"), Column("pressure_GPa", "p (GPa)"),
               Column("survived", "repeats survived"), Column("survival_words", "survival"),
               Column("times_to_failure_ps", "failed at (ps)"), Column("failure_reasons", "failure reasons"),
               Column("close_contact_label", "frames with a close contact"),
               Column("n_frames", "frames"), Column("min_distance_A", "closest pair (Å)")]
    potentials = sorted(table["potential"].unique())
    n_runs = int(table["n_repeats"].sum())
    caption = (f"Survival of the NPT runs on the temperature–pressure grid, one panel per potential "
               f"({join_words(potentials)}; {plural(n_runs, 'run')}): dark green all repeats reached the full "
               "length, pale green some, white none, grey unfinished. The number in each cell is the share of "
               f"frames with a pair closer than {_threshold(table)} (– when no frame was written). "
               "Source: robustness.csv.")
    paragraphs = ["The paper's criteria: simulation survival (every repeat reaches the full length) and the number "
                  f"of frames with an interatomic distance ≤ {_threshold(table)}, over a grid of temperatures and "
                  "pressures far outside the conditions of use. Runs that fail here are the measurement, not a "
                  "fault of the harness."]
    section = Section("robustness", "Task 4: robustness", paragraphs,
                      [Figure(figure.name, caption, "Survival map of the robustness runs")],
                      [curated_table(frame, columns, "One row per potential, temperature and pressure",
                                     "robustness.csv")],
                      [full_table(table, "robustness.csv")])
    section.galleries = data.galleries("robustness", _snapshot_caption)
    return section


def _snapshot_caption(rows: pd.DataFrame) -> str:
    first = rows.iloc[0]
    return (f"{first['potential']} at {number(first['temperature_K'])} K and {number(first['pressure_Pa'], 2)} Pa: "
            "the relaxed random cell, the last frame of a run that survived and the last complete frame of one "
            f"that failed ({join_words(sorted(set(rows['run_id'])))}). {SNAPSHOT_WORDS}")



TASK = Task("robustness", ("robustness",), "Task 4 · robustness", analyze, cell, section)
