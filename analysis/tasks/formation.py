"""Task 1, formation energies: the ``relax`` and ``single_point`` runs -> results/formation.csv (E_f by eq. (1)
relative to Li2S and P2S5 of the same potential and protocol, RMSE(E_f) against the reference in summary.json), and
the report's part: RMSE(E_f) against the named reference (CHGNet or DFT), or in words why there is none (an
end-point missing, no reference); the parity plot and the per-structure table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from analysis import formation as formation_energy
from analysis.errors import AnalysisError
from analysis.report_parts import (
    Cell, Column, Figure, ReportData, Section, colours, curated_table, full_table, join_words, number, plural,
    reference_name, save)
from analysis.results import Options, ResultTable, Summary
from analysis.runs import RunInfo, failure_text
from analysis.tasks.task import Task, TaskResults
from harness.rundir import read_json

FORMATION_COLUMNS = [
    "potential", "protocol", "structure", "run_id", "state", "natoms", "energy_eV", "energy_per_atom_eV", "x",
    "E_f_meV_per_atom", "reference_E_f_meV_per_atom", "error_meV_per_atom", "note"]


# -- analysis: runs -> results/formation.csv ----------------------------------------------------------
def formation_table(runs: list[RunInfo], options: Options, summary: Summary,
                    campaign_dir: Path) -> list[dict]:
    """One row per relax or single-point run: its energy, x on the Li2S-P2S5 tie line, E_f by eq. (1) against the
    end-points of the same potential and protocol, and the error against the reference when one is given."""
    rows = []
    for run in runs:
        structure = formation_energy.canonical_name(str(run.params.get("structure", run.spec.get("structure", ""))))
        counts = {k: int(v) for k, v in run.spec.get("counts", {}).items()}
        row: dict[str, Any] = {"potential": run.potential, "protocol": run.task, "structure": structure,
                               "run_id": run.run_id, "state": run.state, "natoms": sum(counts.values()) or None}
        result_path = run.directory / "result.json"
        if run.state == "done" and result_path.is_file():
            result = read_json(result_path)
            energy = float(result["energy_eV"])
            natoms = int(result.get("natoms", row["natoms"] or 0))
            row.update({"energy_eV": energy, "natoms": natoms, "energy_per_atom_eV": energy / natoms})
            try:
                row["x"] = formation_energy.tie_line_x(counts)
            except AnalysisError as error:
                row["note"] = str(error)
        else:
            if run.state != "done":
                row["note"] = failure_text(run) or f"run is {run.state}"
            else:
                row["note"] = "result.json missing"
        row["_counts"] = counts
        rows.append(row)

    reference: dict[str, float] = {}
    reference_path = options.formation_reference
    if reference_path is None and (campaign_dir / "formation_reference.csv").is_file():
        reference_path = campaign_dir / "formation_reference.csv"
    if reference_path is not None:
        reference, note = formation_energy.read_reference(Path(reference_path), {r["structure"] for r in rows})
        if note:
            summary.notes.append(note)
    else:
        summary.notes.append("no formation reference CSV (structure,E_f_meV_per_atom): RMSE(E_f) not computed")

    rmse: dict[str, Any] = {}
    structures = {r["structure"] for r in rows}
    lacking = formation_energy.missing_crystals(structures)
    if lacking:
        summary.notes.append(f"formation: the campaign lacks {len(lacking)} of the paper's eight crystals: "
                             f"{', '.join(lacking)}")
    for key in sorted({(r["potential"], r["protocol"]) for r in rows}):
        group = [r for r in rows if (r["potential"], r["protocol"]) == key]
        ends = {r["structure"]: r for r in group if r["structure"] in formation_energy.END_POINTS and "energy_eV" in r}
        missing_ends = [e for e in formation_energy.END_POINTS if e not in ends]
        if missing_ends:
            message = (f"E_f cannot be computed for {key[0]} ({key[1]}): end-point energy of "
                       f"{' and '.join(missing_ends)} missing (both Li2S and P2S5 are required, from the "
                       "same potential and protocol); raw energies reported")
            summary.notes.append(message)
        errors = []
        for row in group:
            if "energy_eV" not in row:
                continue
            if row["structure"] in formation_energy.END_POINTS:
                if not missing_ends:   # eq. (1) at x = 0 or 1: zero by definition, left out of RMSE(E_f)
                    row["E_f_meV_per_atom"] = 0.0
                    row["note"] = "end-point: E_f = 0 by eq. (1); not in RMSE(E_f)"
                continue
            if not missing_ends and "x" in row:
                row["E_f_meV_per_atom"] = formation_energy.formation_energy_meV_per_atom(
                    row["energy_eV"], row["_counts"], ends["Li2S"]["energy_per_atom_eV"],
                    ends["P2S5"]["energy_per_atom_eV"])
            elif missing_ends:
                row["note"] = f"no E_f: {' and '.join(missing_ends)} missing"
            if row["structure"] in reference:
                row["reference_E_f_meV_per_atom"] = reference[row["structure"]]
                if "E_f_meV_per_atom" in row:
                    row["error_meV_per_atom"] = row["E_f_meV_per_atom"] - reference[row["structure"]]
                    errors.append(row["error_meV_per_atom"])
        rmse[f"{key[0]}/{key[1]}"] = {"potential": key[0], "protocol": key[1],
                                      "rmse_E_f_meV_per_atom": formation_energy.rmse(errors) if errors else None,
                                      "n_structures": len(errors), "missing_end_points": missing_ends}
    summary.data["formation"] = {"rmse": rmse, "missing_crystals": lacking,
                                 "reference": str(reference_path) if reference_path else None}
    for row in rows:
        row.pop("_counts")
    rows.sort(key=lambda r: (r["potential"], r["protocol"], r["structure"]))
    return rows


def analyze(campaign_dir: Path, runs: list[RunInfo], options: Options, summary: Summary) -> TaskResults:
    return TaskResults([ResultTable("formation.csv", FORMATION_COLUMNS,
                                    formation_table(runs, options, summary, campaign_dir))])


# -- report: results/ -> scorecard cell and section ---------------------------------------------------
PROTOCOL_WORDS = {"relax": "relaxed with the potential", "single_point": "single points on the given structures"}


def _entries(data: ReportData, potential: str) -> list[dict]:
    rmse = (data.summary.get("formation") or {}).get("rmse") or {}
    return [entry for entry in rmse.values() if entry.get("potential") == potential]


def _end_point_words(data: ReportData, potential: str, protocol: str, missing: list[str]) -> str:
    """'no P2S5 in the campaign' or 'the Li2S run failed' for each missing end-point."""
    table = data.table("formation.csv")
    words = []
    for end_point in missing:
        rows = pd.DataFrame()
        if table is not None:
            rows = table[(table["potential"] == potential) & (table["protocol"] == protocol)
                         & (table["structure"] == end_point)]
        if rows.empty:
            words.append(f"no {end_point} in the campaign")
        else:
            words.append(f"the {end_point} run is {rows.iloc[0]['state']}")
    return "no E_f: " + join_words(words)


def reference_words(data: ReportData) -> str:
    return reference_name((data.summary.get("formation") or {}).get("reference"))


def cell(data: ReportData, potential: str) -> Cell:
    entries = _entries(data, potential)
    if not entries:
        return Cell("not run", "no formation-energy runs for this potential", "missing")
    reference = reference_words(data)
    parts = []
    for entry in sorted(entries, key=lambda e: e.get("protocol") != "relax"):
        protocol = str(entry.get("protocol"))
        value = entry.get("rmse_E_f_meV_per_atom")
        missing = list(entry.get("missing_end_points") or [])
        if value is not None:
            parts.append(Cell(f"RMSE(E_f) {number(value, 3)}\u00a0meV/atom", f"against {reference}", "info",
                              f"{plural(int(entry.get('n_structures', 0)), 'structure')}, "
                              f"{PROTOCOL_WORDS.get(protocol, protocol)}"))
        elif missing:
            parts.append(Cell("no value", _end_point_words(data, potential, protocol, missing), "missing",
                              PROTOCOL_WORDS.get(protocol, protocol)))
        elif reference == "no reference":
            parts.append(Cell("no value", "no reference formation energies given: RMSE(E_f) not computed",
                              "missing", PROTOCOL_WORDS.get(protocol, protocol)))
        else:
            parts.append(Cell("no value", f"no structure with both an E_f and a {reference} value", "missing",
                              PROTOCOL_WORDS.get(protocol, protocol)))
    first, rest = parts[0], parts[1:]
    for other in rest:
        first.detail += f"; {other.detail}: {other.headline if other.headline != 'no value' else other.verdict}"
    return first


def formation_figure(table: pd.DataFrame, path: Path) -> Path | None:
    """Parity plot of E_f against the reference (meV/atom), or the predicted values by structure."""
    data = table[table["E_f_meV_per_atom"].notna()]
    if data.empty:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 5))
    keys = sorted({(r.potential, r.protocol) for r in data.itertuples()})
    palette = colours([f"{p} ({q})" for p, q in keys])
    have_reference = data["reference_E_f_meV_per_atom"].notna().any()
    for potential, protocol in keys:
        mine = data[(data["potential"] == potential) & (data["protocol"] == protocol)]
        label = f"{potential} ({protocol})"
        if have_reference:
            ax.scatter(mine["reference_E_f_meV_per_atom"], mine["E_f_meV_per_atom"], color=palette[label],
                       label=label)
        else:
            ax.scatter(range(len(mine)), mine["E_f_meV_per_atom"], color=palette[label], label=label)
            ax.set_xticks(range(len(mine)), mine["structure"], rotation=45)
    if have_reference:
        values = pd.concat([data["reference_E_f_meV_per_atom"], data["E_f_meV_per_atom"]]).dropna()
        low, high = values.min() - 5, values.max() + 5
        ax.plot([low, high], [low, high], "k--", lw=1)
        ax.set_xlabel("reference E_f (meV/atom)")
    ax.set_ylabel("predicted E_f (meV/atom)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def section(data: ReportData) -> Section | None:
    table = data.table("formation.csv")
    if table is None or table.empty:
        return None
    formation = data.summary.get("formation") or {}
    reference = reference_words(data)
    paragraphs = ["The paper's metric: RMSE(E_f) over its eight crystals, with E_f from eq. (1) relative to Li2S "
                  "and P2S5 of the same potential and protocol. The paper ranks potentials by it; it sets no pass "
                  "mark. " + (f"Reference here: {reference}." if reference != "no reference"
                              else "No reference formation energies were given, so no RMSE is computed.")]
    lacking = list(formation.get("missing_crystals") or [])
    if lacking:
        paragraphs.append(f"The campaign lacks {len(lacking)} of the paper's eight crystals: {join_words(lacking)}.")
    figures = []
    figure = formation_figure(table, data.out_dir / "formation.png")
    if figure is not None:
        what = "against the reference" if table["reference_E_f_meV_per_atom"].notna().any() else "by structure"
        figures.append(Figure(figure.name, f"Predicted formation energy per atom {what}, one colour per potential "
                              "and protocol; dashed: perfect agreement. Source: formation.csv.",
                              "Formation energy parity plot"))
    columns = [Column("potential", "potential"), Column("protocol", "protocol"), Column("structure", "structure"),
               Column("state", "state"), Column("natoms", "atoms"),
               Column("energy_per_atom_eV", "E (eV/atom)", 5), Column("E_f_meV_per_atom", "E_f (meV/atom)"),
               Column("reference_E_f_meV_per_atom",
                      f"{reference} E_f (meV/atom)" if reference != "no reference" else "reference E_f (meV/atom)"),
               Column("error_meV_per_atom", "error (meV/atom)"), Column("note", "note")]
    return Section("formation", "Task 1: formation energies", paragraphs, figures,
                   [curated_table(table, columns, "One row per potential, protocol and structure", "formation.csv")],
                   [full_table(table, "formation.csv")])


TASK = Task("formation", ("relax", "single_point"), "Task 1 · RMSE(E_f)", analyze, cell, section)
