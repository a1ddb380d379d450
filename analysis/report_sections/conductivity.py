"""Task 3 in the report: σ298 against the paper's accepted band, the Arrhenius plot (all potentials in one
figure, like the paper's Fig. 6), per-temperature and per-run tables, and the Li jump statistics."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.report_sections.common import (
    DASH, Cell, Column, Figure, ReportData, Section, Table, TaskReport, colours, curated_table, full_table, join_words,
    number, plural, plus_minus, save)
from harness.units import BOLTZMANN_EV_PER_K, nernst_einstein_ms_per_cm

BAND_WORDS = {"crystal": "crystalline Li7P3S11, experiment to AIMD",
              "all": "every row of the paper's Table 2, glass-ceramics included",
              "highlighted": "best experiment to AIMD (PBEsol), the values in bold in Table 2"}
VERDICT_WORDS = {"inside": "inside the accepted band", "above": "above the accepted band",
                 "below": "below the accepted band"}


def _fits(data: ReportData) -> pd.DataFrame | None:
    table = data.table("conductivity.csv")
    if table is None or "kind" not in table.columns:
        return None
    return table[table["kind"] == "arrhenius_298K"]


def _band_text(row: pd.Series) -> str:
    low, high = row.get("band_low_mS_per_cm"), row.get("band_high_mS_per_cm")
    if pd.isna(low) or pd.isna(high):
        return "no accepted band"
    return f"{number(low, 2)}–{number(high, 2)} mS/cm"


def _no_fit_words(data: ReportData, potential: str) -> str:
    """Why a potential has no σ298, in words."""
    table = data.table("conductivity.csv")
    simulated = table[(table["potential"] == potential) & (table["kind"] == "simulated")]
    with_d = simulated[simulated["d_cm2_per_s"].notna() & (simulated["d_cm2_per_s"] > 0)]
    return (f"no σ298: {len(with_d)} of {plural(len(simulated), 'temperature')} gave a positive D "
            "(the Arrhenius fit needs two)")


def cell(data: ReportData, potential: str) -> Cell:
    fits = _fits(data)
    mine = fits[fits["potential"] == potential] if fits is not None else pd.DataFrame()
    if mine.empty:
        return Cell("not run", "no conductivity runs for this potential", "missing")
    row = mine.iloc[0]
    used = f"{number(row.get('n_used'))} of {plural(int(row.get('n_repeats', 0)), 'run')} used"
    if pd.isna(row.get("sigma_mS_per_cm")):
        return Cell("no value", _no_fit_words(data, potential), "missing", used)
    flag = str(row.get("literature_flag", "unknown"))
    verdict = f"{VERDICT_WORDS.get(flag, 'no verdict')} ({_band_text(row)})"
    detail = (f"Ea {plus_minus(row.get('ea_eV'), row.get('ea_err_eV'), unit='eV')}, "
              f"{plural(int(row.get('n_temperatures', 0)), 'temperature')}, {used}")
    return Cell(f"σ298 {plus_minus(row['sigma_mS_per_cm'], row.get('sigma_err_mS_per_cm'), unit='mS/cm')}",
                verdict, "good" if flag == "inside" else "bad" if flag in ("above", "below") else "missing", detail)


def arrhenius_figure(summary: pd.DataFrame, runs: pd.DataFrame | None, path: Path) -> Path:
    """D vs 1000/T, log scale, every potential in one plot: repeats hollow, per-temperature means filled with
    their errors, Arrhenius fit solid, extrapolation to 298 K dotted, the accepted band at 298 K grey."""
    fig, ax = plt.subplots(figsize=(7, 4.6))
    potentials = sorted(summary["potential"].unique())
    palette = colours(potentials)
    band_drawn = False
    for potential in potentials:
        colour = palette[potential]
        mine = summary[summary["potential"] == potential]
        simulated = mine[(mine["kind"] == "simulated") & mine["d_cm2_per_s"].notna() & (mine["d_cm2_per_s"] > 0)]
        if runs is not None:
            repeats = runs[(runs["potential"] == potential) & runs["d_cm2_per_s"].notna()
                           & (runs["d_cm2_per_s"] > 0)]
            ax.scatter(1000.0 / repeats["temperature_K"], repeats["d_cm2_per_s"], facecolors="none",
                       edgecolors=colour, s=30)
        ax.errorbar(1000.0 / simulated["temperature_K"], simulated["d_cm2_per_s"],
                    yerr=simulated["d_err_cm2_per_s"].fillna(0.0), fmt="o", color=colour, label=potential)
        fit = mine[(mine["kind"] == "arrhenius_298K") & mine["ea_eV"].notna()]
        if len(fit) and len(simulated):
            row = fit.iloc[0]
            ea, d298, t298 = row["ea_eV"], row["d_cm2_per_s"], row["temperature_K"]

            def line(temperature: np.ndarray) -> np.ndarray:
                return d298 * np.exp(-ea / BOLTZMANN_EV_PER_K * (1.0 / temperature - 1.0 / t298))

            t_fit = np.linspace(simulated["temperature_K"].min(), simulated["temperature_K"].max(), 50)
            t_ext = np.linspace(t298, simulated["temperature_K"].min(), 50)
            ax.plot(1000.0 / t_fit, line(t_fit), "-", color=colour)
            ax.plot(1000.0 / t_ext, line(t_ext), ":", color=colour)
            density = row["li_density_per_A3"]
            if not band_drawn and np.isfinite(density) and np.isfinite(row["band_low_mS_per_cm"]):
                per_d = nernst_einstein_ms_per_cm(1.0, 1, 1.0 / density, t298)
                low, high = row["band_low_mS_per_cm"] / per_d, row["band_high_mS_per_cm"] / per_d
                x298 = 1000.0 / t298
                ax.fill_between([x298 - 0.06, x298 + 0.06], low, high, color="0.8", zorder=0,
                                label=f"accepted σ298 band ({row['literature_band']})")
                band_drawn = True
    if summary["d_cm2_per_s"].gt(0).any():
        ax.set_yscale("log")
    else:
        ax.text(0.5, 0.5, "no run gave a positive D(Li): nothing to plot\n(the tables below say why)",
                ha="center", va="center", transform=ax.transAxes, color="0.35")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel("D(Li) (cm$^2$/s)")
    ax.grid(True, which="major", color="0.9")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def _fit_table(fits: pd.DataFrame) -> Table:
    frame = fits.copy()
    frame["sigma"] = [plus_minus(r.sigma_mS_per_cm, r.sigma_err_mS_per_cm) for r in frame.itertuples()]
    frame["ea"] = [plus_minus(r.ea_eV, r.ea_err_eV) for r in frame.itertuples()]
    frame["used"] = [f"{number(r.n_used)} of {number(r.n_repeats)}" for r in frame.itertuples()]
    frame["band"] = [_band_text(r) for _, r in frame.iterrows()]
    frame["verdict"] = [VERDICT_WORDS.get(str(f), "no verdict") for f in frame["literature_flag"]]
    columns = [Column("potential", "potential"), Column("sigma", "σ298 (mS/cm)"), Column("ea", "Ea (eV)"),
               Column("n_temperatures", "temperatures in the fit"), Column("used", "runs used"),
               Column("band", "accepted band"), Column("verdict", "verdict"), Column("note", "fit")]
    return curated_table(frame, columns, "Room-temperature conductivity by potential (Arrhenius extrapolation)")


def _temperature_table(table: pd.DataFrame) -> Table:
    frame = table[table["kind"] == "simulated"].copy()
    frame["d"] = [plus_minus(r.d_cm2_per_s, r.d_err_cm2_per_s) for r in frame.itertuples()]
    frame["sigma"] = [plus_minus(r.sigma_mS_per_cm, r.sigma_err_mS_per_cm) for r in frame.itertuples()]
    frame["used"] = [f"{number(r.n_used)} of {number(r.n_repeats)}" for r in frame.itertuples()]
    columns = [Column("potential", "potential"), Column("temperature_K", "T (K)"), Column("used", "runs used"),
               Column("n_failed", "failed"), Column("n_unfinished", "unfinished"), Column("d", "D(Li) (cm²/s)"),
               Column("sigma", "σ(T) (mS/cm)"), Column("haven_ratio", "Haven ratio", 2)]
    return curated_table(frame, columns, "Mean over repeats at each simulated temperature", "conductivity.csv")


def _jump_table(jumps: pd.DataFrame) -> Table:
    columns = [Column("potential", "potential"), Column("temperature_K", "T (K)"), Column("repeat", "repeat"),
               Column("state", "state"), Column("n_hops", "hops"),
               Column("hop_rate_per_li_per_ps", "hops per Li per ps"),
               Column("fraction_li_hopped", "fraction of Li that hopped", 2),
               Column("mean_residence_ps", "mean residence (ps)"),
               Column("back_hop_fraction", "back-hop fraction", 2),
               Column("d_jump_cm2_per_s", "D from hops (cm²/s)"), Column("d_msd_cm2_per_s", "D from MSD (cm²/s)"),
               Column("message", "why no numbers")]
    return curated_table(jumps, columns, "Li hops between the Li sites of the first frame (beyond the paper)",
                         "li_jumps.csv")


def section(data: ReportData) -> Section | None:
    table = data.table("conductivity.csv")
    if table is None or table.empty:
        return None
    runs = data.table("conductivity_runs.csv")
    fits = _fits(data)
    figure = arrhenius_figure(table, runs, data.out_dir / "arrhenius.png")
    potentials = sorted(table["potential"].unique())
    temperatures = sorted(table.loc[table["kind"] == "simulated", "temperature_K"].unique())
    n_runs = len(runs) if runs is not None else 0
    n_with_d = int((runs["d_cm2_per_s"] > 0).sum()) if runs is not None else 0
    band = fits.iloc[0] if fits is not None and len(fits) else None
    band_name = str(band["literature_band"]) if band is not None else ""
    paragraphs = [
        "The paper's criterion: σ298, from D(Li) extrapolated to 298 K by an Arrhenius fit and converted by "
        "Nernst–Einstein, should lie within the range of experiment to AIMD (its Table 2). "
        + (f"Band used here: {_band_text(band)} ({BAND_WORDS.get(band_name, band_name)})." if band is not None
           else ""),
    ]
    caption = (f"Li tracer diffusion coefficient against 1000/T for {join_words(potentials)}: hollow circles are "
               f"single runs ({n_with_d} of {plural(n_runs, 'run')} gave a positive D), filled circles the mean "
               "over repeats at each temperature with its standard error, solid lines the Arrhenius fit over "
               f"{join_words([number(t) for t in temperatures])} K, dotted lines its extrapolation to 298 K; "
               "the grey bar is the accepted σ298 band converted to D at 298 K. Source: conductivity.csv, "
               "conductivity_runs.csv.")
    section = Section("conductivity", "Task 3: ionic conductivity of Li7P3S11", paragraphs,
                      [Figure(figure.name, caption, "Arrhenius plot of D(Li)")])
    if fits is not None and len(fits):
        section.tables.append(_fit_table(fits))
    section.tables.append(_temperature_table(table))
    section.full.append(full_table(table, "conductivity.csv"))
    if runs is not None:
        section.full.append(full_table(runs, "conductivity_runs.csv", "One row per conductivity run"))
    jumps = data.table("li_jumps.csv")
    if jumps is not None and len(jumps):
        section.tables.append(_jump_table(jumps))
        section.full.append(full_table(jumps, "li_jumps.csv", "Li jump statistics, all columns"))
    section.notes = [f"{DASH} in a table: no value (see the run's message)."]
    return section


TASK = TaskReport("conductivity", "Task 3 · σ298 (ionic conductivity)", ("conductivity",), cell, section)
