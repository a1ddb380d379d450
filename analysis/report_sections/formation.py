"""Task 1 in the report: RMSE(E_f) against the named reference (CHGNet or DFT), or in words why there is
none (an end-point missing, no reference); the parity plot and the per-structure table."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from analysis.report_sections.common import (
    Cell, Column, Figure, ReportData, Section, TaskReport, colours, curated_table, full_table, join_words, number,
    plural, reference_name, save)

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


TASK = TaskReport("formation", "Task 1 · RMSE(E_f)", ("relax", "single_point"), cell, section)
