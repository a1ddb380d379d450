"""Task 2, force errors: the ``forces`` runs (single points on the reference frames) -> results/forces.csv and
results/forces_frames.csv, and the report's part: RMSE(F) against the named reference (CHGNet or DFT) along the
melt-quench frames, the per-frame error plot (all potentials in one figure, like the paper's Fig. 5) and the
table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from analysis.errors import AnalysisError
from analysis.forces import force_errors_from_files
from analysis.report_parts import (
    Cell, Column, Figure, ReportData, Section, colours, curated_table, full_table, join_words, number, plural,
    reference_name, save)
from analysis.results import Options, ResultTable, Summary
from analysis.runs import RunInfo, failure_text
from analysis.tasks.task import Task, TaskResults

FORCES_COLUMNS = [
    "potential", "run_id", "state", "nframes", "force_rmse_eV_per_A", "force_mae_eV_per_A",
    "energy_rmse_meV_per_atom", "energy_mae_meV_per_atom", "energy_rmse_raw_meV_per_atom", "note"]
FORCES_FRAME_COLUMNS = [
    "potential", "run_id", "frame", "temperature_K", "phase", "force_rmse_eV_per_A", "force_mae_eV_per_A",
    "energy_error_meV_per_atom"]


# -- analysis: runs -> results/forces.csv, results/forces_frames.csv ----------------------------------
def forces_tables(runs: list[RunInfo], summary: Summary) -> tuple[list[dict], list[dict]]:
    """One row per force run (RMSE and MAE of forces and energies over its frames) and one row per frame."""
    rows, frame_rows = [], []
    overall = {}
    reference_names = set()
    for run in runs:
        row: dict[str, Any] = {"potential": run.potential, "run_id": run.run_id, "state": run.state}
        reference = run.directory / str(run.params.get("reference", "reference.extxyz"))
        reference_names.add(Path(str(run.params.get("reference_source") or reference)).name)
        dump = run.directory / "forces.lammpstrj"
        if run.state != "done":
            row["note"] = failure_text(run) or f"run is {run.state}"
        else:
            try:
                result = force_errors_from_files(reference, dump, run.directory / "energies.dat")
            except AnalysisError as error:
                row["note"] = f"analysis failed: {error}"
            else:
                row.update({"nframes": result.nframes, "force_rmse_eV_per_A": result.force_rmse_eV_per_A,
                            "force_mae_eV_per_A": result.force_mae_eV_per_A,
                            "energy_rmse_meV_per_atom": result.energy_rmse_meV_per_atom,
                            "energy_mae_meV_per_atom": result.energy_mae_meV_per_atom,
                            "energy_rmse_raw_meV_per_atom": result.energy_rmse_raw_meV_per_atom})
                overall[run.run_id] = {k: row[k] for k in row if k not in ("state",)}
                for k in range(result.nframes):
                    energy = result.frame_energy_error_meV_per_atom
                    frame_rows.append({
                        "potential": run.potential, "run_id": run.run_id, "frame": k,
                        "temperature_K": result.frame_temperature_K[k], "phase": result.frame_phase[k],
                        "force_rmse_eV_per_A": result.frame_force_rmse_eV_per_A[k],
                        "force_mae_eV_per_A": result.frame_force_mae_eV_per_A[k],
                        "energy_error_meV_per_atom": None if energy is None else energy[k]})
        rows.append(row)
    summary.data["forces"] = overall
    summary.data["forces_reference"] = sorted(reference_names)  # file names: the report names CHGNet or DFT
    return rows, frame_rows


def analyze(campaign_dir: Path, runs: list[RunInfo], options: Options, summary: Summary) -> TaskResults:
    rows, frame_rows = forces_tables(runs, summary)
    return TaskResults([ResultTable("forces.csv", FORCES_COLUMNS, rows),
                        ResultTable("forces_frames.csv", FORCES_FRAME_COLUMNS, frame_rows)])


# -- report: results/ -> scorecard cell and section ---------------------------------------------------
def reference_words(data: ReportData) -> str:
    names = data.summary.get("forces_reference") or []
    if not names:
        return "the reference frames"
    return join_words(sorted({reference_name(n) for n in names}))


def cell(data: ReportData, potential: str) -> Cell:
    table = data.table("forces.csv")
    mine = table[table["potential"] == potential] if table is not None else pd.DataFrame()
    if mine.empty:
        return Cell("not run", "no force runs for this potential", "missing")
    good = mine[mine["force_rmse_eV_per_A"].notna()]
    if good.empty:
        row = mine.iloc[0]
        note = row.get("note")
        why = str(note) if isinstance(note, str) and note else f"the run is {row.get('state')}"
        return Cell("no value", f"no RMSE(F): {why}", "missing")
    frames = int(good["nframes"].fillna(0).sum())
    detail = plural(frames, "frame")
    if "energy_rmse_meV_per_atom" in good.columns and good["energy_rmse_meV_per_atom"].notna().any():
        detail += f"; energy RMSE {number(good['energy_rmse_meV_per_atom'].mean())} meV/atom (offset removed)"
    return Cell(f"RMSE(F) {number(good['force_rmse_eV_per_A'].mean(), 3)}\u00a0eV/Å",
                f"against {reference_words(data)}", "info", detail)


def forces_figure(frames: pd.DataFrame, path: Path) -> Path:
    """Per-frame force RMSE along the trajectory, one line per potential; the temperature on a second axis."""
    fig, ax = plt.subplots(figsize=(7, 4))
    potentials = sorted(frames["potential"].unique())
    palette = colours(potentials)
    for potential in potentials:
        mine = frames[frames["potential"] == potential].sort_values("frame")
        ax.plot(mine["frame"], mine["force_rmse_eV_per_A"], "o-", ms=3, color=palette[potential], label=potential)
    ax.set_xlabel("frame along the reference trajectory")
    ax.set_ylabel("force RMSE (eV/Å)")
    first = frames[frames["potential"] == potentials[0]].sort_values("frame")
    if first["temperature_K"].notna().any():
        twin = ax.twinx()
        twin.plot(first["frame"], first["temperature_K"], color="0.6", lw=1, ls="--", label="temperature")
        twin.set_ylabel("reference temperature (K, dashed)", color="0.4")
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=min(4, len(potentials)),
              frameon=False)
    fig.tight_layout()
    return save(fig, path)


def section(data: ReportData) -> Section | None:
    table = data.table("forces.csv")
    if table is None or table.empty:
        return None
    reference = reference_words(data)
    frames = data.table("forces_frames.csv")
    figures = []
    if frames is not None and len(frames):
        figure = forces_figure(frames, data.out_dir / "forces.png")
        potentials = sorted(frames["potential"].unique())
        n = int(frames.groupby("potential")["frame"].count().max())
        figures.append(Figure(figure.name, f"Force RMSE of {join_words(potentials)} against {reference} on each of "
                              f"the {plural(n, 'frame')} of the reference melt-quench (crystal, liquid, quenched); "
                              "dashed grey: the reference temperature of each frame. Source: forces_frames.csv.",
                              "Force error along the melt-quench"))
    paragraphs = [f"The paper's metric: RMSE(F) over all force components of melt-quench snapshots, against DFT. "
                  f"Reference here: {reference}"
                  + (" (CHGNet labels, not DFT: the error measures agreement with CHGNet)." if reference == "CHGNet"
                     else ".") + " The paper ranks potentials by it; it sets no pass mark."]
    columns = [Column("potential", "potential"), Column("state", "state"), Column("nframes", "frames"),
               Column("force_rmse_eV_per_A", "RMSE(F) (eV/Å)"), Column("force_mae_eV_per_A", "MAE(F) (eV/Å)"),
               Column("energy_rmse_meV_per_atom", "RMSE(E), offset removed (meV/atom)"),
               Column("energy_mae_meV_per_atom", "MAE(E), offset removed (meV/atom)"), Column("note", "note")]
    full = [full_table(table, "forces.csv")]
    if frames is not None:
        full.append(full_table(frames, "forces_frames.csv", "Per-frame errors"))
    return Section("forces", "Task 2: force errors", paragraphs, figures,
                   [curated_table(table, columns, "One row per force run", "forces.csv")], full)


TASK = Task("forces", ("forces",), "Task 2 · RMSE(F)", analyze, cell, section)
