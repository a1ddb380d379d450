"""The melt-quench (Task 2's trajectory, run with the potential under test): the ``melt_quench`` runs ->
results/melt_quench.csv (one row per frame: phase, temperature, density, PS4 tetrahedra intact) and OVITO pictures of
the start, the melt and the quenched frame; and the report's part: whether each run finished, its final density and
how many PS4 tetrahedra stayed intact, the three-panel figure and the pictures."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from analysis import snapshots
from analysis.errors import AnalysisError
from analysis.meltquench import melt_quench_run
from analysis.report_parts import (
    Cell, Column, Figure, ReportData, Section, colours, curated_table, full_table, join_words, number, plural,
    SNAPSHOT_WORDS, save)
from analysis.results import Options, ResultTable, Summary
from analysis.runs import RunInfo, failure_text
from analysis.tasks.task import Task, TaskResults

MELT_QUENCH_COLUMNS = [
    "potential", "run_id", "variant", "repeat", "state", "frame", "step", "time_ps", "phase", "T_target_K", "T_K",
    "pe_eV", "press_bar", "volume_A3", "density_g_cm3", "n_P", "p_s4_fraction", "p_s_coordination", "cutoff_A",
    "message"]


# -- analysis: runs -> results/melt_quench.csv ---------------------------------------------------------
def melt_quench_table(runs: list[RunInfo], options: Options, summary: Summary) -> list[dict]:
    """One row per frame of every melt-quench run; a run without frames is one row with its message."""
    rows: list[dict] = []
    for run in sorted(runs, key=lambda r: (r.potential, r.run_id)):
        base = {"potential": run.potential, "run_id": run.run_id, "variant": run.params.get("variant"),
                "repeat": run.repeat, "state": run.state, "cutoff_A": options.coordination_cutoff_A}
        message = None if run.state == "done" else (failure_text(run) or f"run is {run.state}")
        frames = []
        if run.state in ("done", "failed", "running") and (run.directory / "traj.lammpstrj").is_file():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    frames = melt_quench_run(run.directory, run.params, options.coordination_cutoff_A,
                                             allow_truncated=run.state != "done")
            except AnalysisError as error:
                message = f"analysis failed: {error}"
                summary.notes.append(f"{run.run_id}: {error}")
        elif run.state == "done":
            message = "traj.lammpstrj missing"
        if not frames:
            rows.append({**base, "message": message})
            continue
        for frame in frames:
            rows.append({**base, **frame.__dict__, "message": message})
    return rows


def analyze(campaign_dir: Path, runs: list[RunInfo], options: Options, summary: Summary) -> TaskResults:
    rows = melt_quench_table(runs, options, summary)
    return TaskResults([ResultTable("melt_quench.csv", MELT_QUENCH_COLUMNS, rows)],
                       snapshots.melt_quench_shots(runs, rows))


# -- report: results/ -> scorecard cell and section ---------------------------------------------------
def per_run(table: pd.DataFrame) -> pd.DataFrame:
    """One row per melt-quench run: state, frames, time reached, final density and PS4 fractions."""
    frame = table.copy()
    for key in ("time_ps", "density_g_cm3", "p_s4_fraction", "frame"):
        if key not in frame.columns:
            frame[key] = float("nan")
    return frame.groupby("run_id", sort=True).agg(
        potential=("potential", "first"), variant=("variant", "first"), repeat=("repeat", "first"),
        state=("state", "first"), frames=("frame", "count"), time_reached_ps=("time_ps", "max"),
        final_density_g_cm3=("density_g_cm3", "last"), min_p_s4_fraction=("p_s4_fraction", "min"),
        final_p_s4_fraction=("p_s4_fraction", "last"), message=("message", "first")).reset_index()


def cell(data: ReportData, potential: str) -> Cell:
    table = data.table("melt_quench.csv")
    runs = per_run(table[table["potential"] == potential]) if table is not None else pd.DataFrame()
    if runs.empty:
        return Cell("not run", "no melt-quench runs for this potential", "missing")
    done = runs[runs["state"] == "done"]
    verdict = f"{len(done)} of {plural(len(runs), 'run')} finished"
    tone = "good" if len(done) == len(runs) else "bad" if runs["state"].isin(["failed"]).any() else "missing"
    last = done.iloc[0] if len(done) else runs.iloc[0]
    if pd.isna(last["final_density_g_cm3"]):
        message = last["message"] if isinstance(last["message"], str) and last["message"] else "no frame written"
        return Cell("no value", verdict, tone, f"no frame analysed: {message}")
    fraction = last["final_p_s4_fraction"]
    detail = f"{number(100.0 * fraction, 3)}% of P in intact PS4 at the end" if pd.notna(fraction) else ""
    return Cell(f"{number(last['final_density_g_cm3'], 3)} g/cm³ at the end", verdict, tone, detail)


def melt_quench_figure(table: pd.DataFrame, path: Path) -> Path | None:
    """Temperature (and thermostat target), density and PS4 fraction along each melt-quench run."""
    data = table[table["time_ps"].notna()]
    if data.empty:
        return None
    fig, axes = plt.subplots(3, 1, figsize=(7, 7), sharex=True)
    potentials = sorted(data["potential"].unique())
    palette = colours(potentials)
    styles = ["-", "--", ":", "-."]
    for potential in potentials:
        mine = data[data["potential"] == potential]
        for k, run_id in enumerate(sorted(mine["run_id"].unique())):
            run = mine[mine["run_id"] == run_id].sort_values("time_ps")
            style = dict(color=palette[potential], ls=styles[k % len(styles)], lw=1.2)
            label = f"{potential} {run['variant'].iloc[0]} r{run['repeat'].iloc[0]}"
            axes[0].plot(run["time_ps"], run["T_K"], label=label, **style)
            axes[1].plot(run["time_ps"], run["density_g_cm3"], **style)
            axes[2].plot(run["time_ps"], run["p_s4_fraction"], **style)
    first = data[data["run_id"] == data["run_id"].iloc[0]].sort_values("time_ps")
    axes[0].plot(first["time_ps"], first["T_target_K"], color="0.5", lw=1, ls=":", label="thermostat target")
    axes[0].set_ylabel("T (K)")
    axes[1].set_ylabel("density (g/cm$^3$)")
    cutoff = data["cutoff_A"].dropna()
    axes[2].set_ylabel(f"fraction of P with 4 S\nwithin {cutoff.iloc[0]:g} Å" if len(cutoff) else "PS4 fraction")
    axes[2].set_ylim(-0.05, 1.05)
    axes[2].set_xlabel("time (ps)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def section(data: ReportData) -> Section | None:
    table = data.table("melt_quench.csv")
    if table is None or table.empty:
        return None
    runs = per_run(table)
    figures = []
    figure = melt_quench_figure(table, data.out_dir / "melt_quench.png")
    if figure is not None:
        figures.append(Figure(figure.name, "Temperature (dotted grey: the thermostat target), density and fraction "
                              "of P atoms with exactly four S neighbours along the melt-quench runs of "
                              f"{join_words(sorted(runs['potential'].unique()))} ({plural(len(runs), 'run')}). "
                              "Source: melt_quench.csv.", "Melt-quench temperature, density and PS4 fraction"))
    columns = [Column("potential", "potential"), Column("variant", "protocol"), Column("repeat", "repeat"),
               Column("state", "state"), Column("frames", "frames"), Column("time_reached_ps", "time reached (ps)"),
               Column("final_density_g_cm3", "final density (g/cm³)"),
               Column("min_p_s4_fraction", "lowest PS4 fraction", 2),
               Column("final_p_s4_fraction", "final PS4 fraction", 2), Column("message", "message")]
    paragraphs = ["The melt-quench of Li7P3S11 (300 K → melt → 300 K) run with the potential under test: the "
                  "trajectory of the paper's Task 2, here also a check that the potential keeps the PS4 "
                  "tetrahedra and a sensible density. No pass mark in the paper."]
    section = Section("melt_quench", "Task 2 trajectory: melt-quench", paragraphs, figures,
                      [curated_table(runs, columns, "One row per melt-quench run", "melt_quench.csv")],
                      [full_table(table, "melt_quench.csv", "One row per frame of every melt-quench run")])
    section.galleries = data.galleries("melt_quench", _snapshot_caption, per_run=True)
    return section


def _snapshot_caption(rows: pd.DataFrame) -> str:
    first = rows.iloc[0]
    return (f"{first['potential']}, melt-quench run {first['run_id']}: the start, the melt (the last frame at the "
            f"high temperature) and the quenched frame. {SNAPSHOT_WORDS}")


TASK = Task("melt_quench", ("melt_quench",), "Melt-quench (Task 2 trajectory)", analyze, cell, section)
