"""Task 3, ionic conductivity: the ``conductivity`` runs -> results/conductivity_runs.csv (D(Li) from the MSD of
each run), results/conductivity.csv (the mean over repeats at each temperature and the Arrhenius extrapolation to
298 K, σ298 against the accepted band) and results/li_jumps.csv (Li hops between sites, from the same pass over each
dump); and the report's part: σ298 against the paper's accepted band, the Arrhenius plot (all potentials in one
figure, like the paper's Fig. 6), per-temperature and per-run tables, and the Li jump statistics."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis import arrhenius
from analysis.errors import AnalysisError
from analysis.jumps import JumpCollector
from analysis.msd import diffusion_from_trajectory, load_trajectory
from analysis.report_parts import (
    DASH, Cell, Column, Figure, ReportData, Section, Table, colours, curated_table, full_table, join_words, number,
    plural, plus_minus, save)
from analysis.results import Options, ResultTable, Summary
from analysis.runs import RunInfo, failure_text
from analysis.tasks.task import Task, TaskResults
from harness.units import BOLTZMANN_EV_PER_K, fs_to_ps, nernst_einstein_ms_per_cm

CONDUCTIVITY_RUN_COLUMNS = [
    "potential", "temperature_K", "repeat", "run_id", "state", "reason", "used_in_fit", "n_li", "volume_A3",
    "nframes", "duration_ps", "fit_start_ps", "fit_end_ps", "d_cm2_per_s", "d_err_cm2_per_s", "d_x_cm2_per_s",
    "d_y_cm2_per_s", "d_z_cm2_per_s", "sigma_mS_per_cm", "d_sigma_cm2_per_s", "haven_ratio", "message"]
CONDUCTIVITY_COLUMNS = [
    "potential", "kind", "temperature_K", "n_repeats", "n_used", "n_failed", "n_unfinished", "d_cm2_per_s",
    "d_err_cm2_per_s", "sigma_mS_per_cm", "sigma_err_mS_per_cm", "ea_eV", "ea_err_eV", "n_temperatures",
    "li_density_per_A3", "literature_band", "band_low_mS_per_cm", "band_high_mS_per_cm", "literature_flag",
    "haven_ratio", "note"]
LI_JUMPS_COLUMNS = [
    "potential", "temperature_K", "repeat", "run_id", "state", "n_li", "n_sites", "nframes", "duration_ps",
    "capture_radius_A", "min_site_separation_A", "n_hops", "hop_rate_per_li_per_ps", "fraction_li_hopped",
    "n_residences", "n_censored_residences", "mean_residence_ps", "median_residence_ps", "back_hop_fraction",
    "mean_hop_length_A", "d_jump_cm2_per_s", "d_msd_cm2_per_s", "message"]


# -- analysis: runs -> results/conductivity.csv, conductivity_runs.csv, li_jumps.csv ------------------
class _SafeJumps:
    """A JumpCollector whose failure (e.g. a capture radius too large for the cell) is recorded, not raised,
    so that the MSD of the same pass goes on."""

    def __init__(self, collector: JumpCollector):
        self.collector = collector
        self.error: str | None = None

    def __call__(self, frame, positions_A) -> None:
        if self.error is None:
            try:
                self.collector(frame, positions_A)
            except AnalysisError as error:
                self.error = str(error)


def _jump_row(run: RunInfo, jumps: _SafeJumps | None, message: str | None, d_msd: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {"potential": run.potential, "temperature_K": float(run.params["temperature_K"]),
                           "repeat": run.repeat, "run_id": run.run_id, "state": run.state, "message": message}
    if jumps is None or message:
        return row
    if jumps.error is not None:
        row["message"] = f"jump analysis failed: {jumps.error}"
        return row
    try:
        result = jumps.collector.finish()
    except AnalysisError as error:
        row["message"] = f"jump analysis failed: {error}"
        return row
    values = result.summary()
    row.update({"n_li": values["n_atoms"], "n_sites": values["n_sites"], "nframes": values["nframes"],
                "duration_ps": values["duration_ps"], "capture_radius_A": values["capture_radius_A"],
                "min_site_separation_A": values["min_site_separation_A"], "n_hops": values["n_hops"],
                "hop_rate_per_li_per_ps": values["hop_rate_per_atom_per_ps"],
                "fraction_li_hopped": values["fraction_atoms_hopped"], "n_residences": values["n_residences"],
                "n_censored_residences": values["n_censored_residences"],
                "mean_residence_ps": values["mean_residence_ps"], "median_residence_ps": values["median_residence_ps"],
                "back_hop_fraction": values["back_hop_fraction"], "mean_hop_length_A": values["mean_hop_length_A"],
                "d_jump_cm2_per_s": values["d_jump_cm2_per_s"], "d_msd_cm2_per_s": d_msd})
    return row


def conductivity_tables(runs: list[RunInfo], options: Options, summary: Summary,
                        jump_rows: list[dict] | None = None) -> tuple[list[dict], list[dict]]:
    """Per-run and per-temperature conductivity rows; Li jump rows (one per run) are appended to
    ``jump_rows`` from the same pass over each dump."""
    run_rows: list[dict] = []
    for run in runs:
        params = run.params
        n_li = int(run.spec.get("counts", {}).get("Li", 0))
        row: dict[str, Any] = {"potential": run.potential, "temperature_K": float(params["temperature_K"]),
                               "repeat": run.repeat, "run_id": run.run_id, "state": run.state,
                               "reason": run.status.get("reason"), "used_in_fit": False, "n_li": n_li}
        trajectory = run.directory / "traj.lammpstrj"
        jumps: _SafeJumps | None = None
        d_msd: float | None = None
        if run.state != "done":
            row["message"] = failure_text(run) or f"run is {run.state}"
        elif not trajectory.is_file():
            row["message"] = "traj.lammpstrj missing"
        else:
            timestep_ps = fs_to_ps(float(params["timestep_fs"]))
            try:
                jumps = _SafeJumps(JumpCollector(timestep_ps, species="Li",
                                                 capture_radius_A=options.capture_radius_A))
                loaded = load_trajectory(trajectory, timestep_ps, species="Li", on_frame=jumps)
                result = diffusion_from_trajectory(loaded, fit_start_ps=options.fit_start_ps,
                                                   fit_end_ps=options.fit_end_ps, n_blocks=options.n_blocks)
            except AnalysisError as error:
                row["message"] = f"analysis failed: {error}"
            else:
                d_msd = result.d_cm2_per_s
                if n_li and n_li != result.natoms:
                    summary.notes.append(f"{run.run_id}: run.json counts {n_li} Li, the dump {result.natoms}")
                n_li = result.natoms
                row.update({
                    "used_in_fit": result.d_cm2_per_s > 0, "n_li": n_li, "volume_A3": result.volume_A3,
                    "nframes": result.nframes, "duration_ps": result.duration_ps,
                    "fit_start_ps": result.fit_start_ps, "fit_end_ps": result.fit_end_ps,
                    "d_cm2_per_s": result.d_cm2_per_s, "d_err_cm2_per_s": result.d_err_cm2_per_s,
                    "d_x_cm2_per_s": result.d_axes_cm2_per_s[0], "d_y_cm2_per_s": result.d_axes_cm2_per_s[1],
                    "d_z_cm2_per_s": result.d_axes_cm2_per_s[2],
                    "sigma_mS_per_cm": arrhenius.conductivity_ms_per_cm(
                        result.d_cm2_per_s, n_li, result.volume_A3, float(params["temperature_K"])),
                    "d_sigma_cm2_per_s": result.d_sigma_cm2_per_s, "haven_ratio": result.haven_ratio})
                if result.d_cm2_per_s <= 0:
                    row["message"] = "non-positive D: not used in the Arrhenius fit"
        if jump_rows is not None:
            failure = None if d_msd is not None else row.get("message")
            jump_rows.append(_jump_row(run, jumps, failure, d_msd))
        run_rows.append(row)
    run_rows.sort(key=lambda r: (r["potential"], r["temperature_K"], r["repeat"]))

    band = arrhenius.literature_band(options.band)
    rows: list[dict] = []
    fits: dict[str, Any] = {}
    for potential in sorted({r["potential"] for r in run_rows}):
        mine = [r for r in run_rows if r["potential"] == potential]
        temps, means, errors, densities, havens = [], [], [], [], []
        for temperature in sorted({r["temperature_K"] for r in mine}):
            group = [r for r in mine if r["temperature_K"] == temperature]
            used = [r for r in group if r["used_in_fit"]]
            mean, err = arrhenius.mean_over_repeats([r["d_cm2_per_s"] for r in used],
                                                    [r["d_err_cm2_per_s"] for r in used])
            density = float(np.mean([r["n_li"] / r["volume_A3"] for r in used])) if used else float("nan")
            sigma = sigma_err = float("nan")
            if used:
                scale = arrhenius.conductivity_ms_per_cm(1.0, 1, 1.0 / density, temperature)
                sigma, sigma_err = mean * scale, err * scale
                temps.append(temperature)
                means.append(mean)
                errors.append(err)
                densities.append(density)
                havens.extend(r["haven_ratio"] for r in used if math.isfinite(r.get("haven_ratio", math.nan)))
            rows.append({"potential": potential, "kind": "simulated", "temperature_K": temperature,
                         "n_repeats": len(group), "n_used": len(used),
                         "n_failed": sum(r["state"] == "failed" for r in group),
                         "n_unfinished": sum(r["state"] in ("pending", "running") for r in group),
                         "d_cm2_per_s": mean, "d_err_cm2_per_s": err, "sigma_mS_per_cm": sigma,
                         "sigma_err_mS_per_cm": sigma_err, "li_density_per_A3": density,
                         "haven_ratio": float(np.mean([r["haven_ratio"] for r in used
                                                       if math.isfinite(r.get("haven_ratio", math.nan))] or [math.nan]))})
        row = {"potential": potential, "kind": "arrhenius_298K", "temperature_K": arrhenius.ROOM_TEMPERATURE_K,
               "n_repeats": len(mine), "n_used": sum(r["used_in_fit"] for r in mine),
               "n_failed": sum(r["state"] == "failed" for r in mine),
               "n_unfinished": sum(r["state"] in ("pending", "running") for r in mine),
               "n_temperatures": len(temps), "literature_band": options.band,
               "band_low_mS_per_cm": band[0], "band_high_mS_per_cm": band[1],
               "haven_ratio": float(np.mean(havens)) if havens else float("nan")}
        try:
            fit = arrhenius.fit_arrhenius(temps, means, errors)
        except AnalysisError as error:
            row["note"] = str(error)
            row["literature_flag"] = "unknown"
            summary.notes.append(f"{potential}: no Arrhenius fit: {error}")
        else:
            d298, d298_err = fit.d_cm2_per_s(arrhenius.ROOM_TEMPERATURE_K)
            density = float(np.mean(densities))
            scale = arrhenius.conductivity_ms_per_cm(1.0, 1, 1.0 / density, arrhenius.ROOM_TEMPERATURE_K)
            sigma298 = d298 * scale
            row.update({"d_cm2_per_s": d298, "d_err_cm2_per_s": d298_err, "sigma_mS_per_cm": sigma298,
                        "sigma_err_mS_per_cm": d298_err * scale, "ea_eV": fit.ea_eV, "ea_err_eV": fit.ea_err_eV,
                        "li_density_per_A3": density,
                        "literature_flag": arrhenius.compare_with_band(sigma298, band),
                        "note": "weighted fit" if fit.weighted else "unweighted fit"})
            fits[potential] = {"ea_eV": fit.ea_eV, "ea_err_eV": fit.ea_err_eV, "d298_cm2_per_s": d298,
                               "d298_err_cm2_per_s": d298_err, "sigma298_mS_per_cm": sigma298,
                               "sigma298_err_mS_per_cm": d298_err * scale,
                               "literature_flag": row["literature_flag"], "band_mS_per_cm": list(band),
                               "n_temperatures": len(temps), "reduced_chi2": fit.reduced_chi2}
        rows.append(row)
    summary.data["conductivity"] = fits
    return rows, run_rows


def analyze(campaign_dir: Path, runs: list[RunInfo], options: Options, summary: Summary) -> TaskResults:
    jump_rows: list[dict] = []
    rows, run_rows = conductivity_tables(runs, options, summary, jump_rows)
    jump_rows.sort(key=lambda r: (r["potential"], r["temperature_K"], r["repeat"]))
    return TaskResults([ResultTable("conductivity.csv", CONDUCTIVITY_COLUMNS, rows),
                        ResultTable("conductivity_runs.csv", CONDUCTIVITY_RUN_COLUMNS, run_rows),
                        ResultTable("li_jumps.csv", LI_JUMPS_COLUMNS, jump_rows)])


# -- report: results/ -> scorecard cell and section ---------------------------------------------------
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


TASK = Task("conductivity", ("conductivity",), "Task 3 · σ298 (ionic conductivity)", analyze, cell, section)
