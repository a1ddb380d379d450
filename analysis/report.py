"""results/ -> report/index.html with PNG figures (matplotlib, Agg backend). Reads only results/.

Figures (each written when its table exists):
* arrhenius.png: D(T) of every repeat (hollow), mean over repeats (filled), Arrhenius fit (solid),
  extrapolation to 298 K (dotted) and the accepted literature band at 298 K (grey), like the paper's Fig. 6;
* robustness.png: survival on the temperature–pressure grid with close-contact percentages (Fig. 4);
* forces.png: force RMSE along the trajectory (Fig. 5);
* formation.png: formation-energy parity plot against the reference (or the predicted values alone);
* melt_quench.png: temperature (with the thermostat target), density and PS4 fraction along each
  melt-quench run.
Tables: also li_jumps.csv (Li hop statistics) under Task 3.
Several potentials are overlaid in one plot (one panel per potential for the heat map), and the
"Summary by potential" table puts them side by side (like the paper's Table 3).
The HTML embeds the PNGs (base64), so index.html is self-contained; the PNG files are kept beside it.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.errors import AnalysisError  # noqa: E402
from harness.units import BOLTZMANN_EV_PER_K  # noqa: E402

SURVIVAL_COLOURS = {"all": "#2e8b57", "some": "#b5e3b5", "none": "#ffffff", "incomplete": "#d9d9d9"}


def _read(results: Path, name: str) -> pd.DataFrame | None:
    path = results / name
    if not path.is_file():
        return None
    return pd.read_csv(path, keep_default_na=True, na_values=[""])


def _colours(names: list[str]) -> dict[str, str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {name: cycle[i % len(cycle)] for i, name in enumerate(names)}


def arrhenius_figure(summary: pd.DataFrame, runs: pd.DataFrame | None, path: Path) -> Path:
    """D vs 1000/T, log scale; see module docstring."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    potentials = sorted(summary["potential"].unique())
    colours = _colours(potentials)
    band_drawn = False
    for potential in potentials:
        colour = colours[potential]
        mine = summary[summary["potential"] == potential]
        simulated = mine[(mine["kind"] == "simulated") & mine["d_cm2_per_s"].notna()]
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
                from harness.units import nernst_einstein_ms_per_cm
                per_d = nernst_einstein_ms_per_cm(1.0, 1, 1.0 / density, t298)
                low, high = row["band_low_mS_per_cm"] / per_d, row["band_high_mS_per_cm"] / per_d
                x298 = 1000.0 / t298
                ax.fill_between([x298 - 0.06, x298 + 0.06], low, high, color="0.8", zorder=0,
                                label=f"literature σ298 band ({row['literature_band']})")
                band_drawn = True
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel("D(Li) (cm$^2$/s)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def robustness_figure(table: pd.DataFrame, path: Path) -> Path:
    """Survival heat map on the (T, p) grid, one panel per potential, close-contact percentage in the cells."""
    potentials = sorted(table["potential"].unique())
    fig, axes = plt.subplots(1, len(potentials), figsize=(max(6.5, 4.5 * len(potentials)), 4.5), squeeze=False)
    for ax, potential in zip(axes[0], potentials):
        mine = table[table["potential"] == potential]
        temps = sorted(mine["temperature_K"].unique())
        pressures = sorted(mine["pressure_Pa"].unique())
        for _, row in mine.iterrows():
            i, j = temps.index(row["temperature_K"]), pressures.index(row["pressure_Pa"])
            ax.add_patch(plt.Rectangle((i - 0.5, j - 0.5), 1, 1, facecolor=SURVIVAL_COLOURS.get(row["survival"], "w"),
                                       edgecolor="0.5"))
            label = row["close_contact_label"] if isinstance(row["close_contact_label"], str) else "-"
            ax.text(i, j, label, ha="center", va="center", fontsize=8)
        ax.set_xlim(-0.5, len(temps) - 0.5)
        ax.set_ylim(-0.5, len(pressures) - 0.5)
        ax.set_xticks(range(len(temps)), [f"{t:g}" for t in temps], rotation=45)
        ax.set_yticks(range(len(pressures)), [f"{p:.0e}" for p in pressures])
        ax.set_xlabel("T (K)")
        ax.set_ylabel("p (Pa)")
        ax.set_title(potential, fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, facecolor=c, edgecolor="0.5") for c in SURVIVAL_COLOURS.values()]
    fig.legend(handles, [f"{k} survived" if k != "incomplete" else k for k in SURVIVAL_COLOURS],
               loc="lower center", ncol=2, fontsize=8)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def forces_figure(frames: pd.DataFrame, path: Path) -> Path:
    """Per-frame force RMSE along the trajectory, one line per potential; the temperature on a second axis."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    potentials = sorted(frames["potential"].unique())
    colours = _colours(potentials)
    for potential in potentials:
        mine = frames[frames["potential"] == potential].sort_values("frame")
        ax.plot(mine["frame"], mine["force_rmse_eV_per_A"], "o-", ms=3, color=colours[potential], label=potential)
    ax.set_xlabel("frame along the trajectory")
    ax.set_ylabel("force RMSE (eV/Å)")
    first = frames[frames["potential"] == potentials[0]].sort_values("frame")
    if first["temperature_K"].notna().any():
        twin = ax.twinx()
        twin.plot(first["frame"], first["temperature_K"], color="0.6", lw=1, ls="--")
        twin.set_ylabel("temperature (K)", color="0.4")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def formation_figure(table: pd.DataFrame, path: Path) -> Path | None:
    """Parity plot of E_f against the reference (meV/atom)."""
    data = table[table["E_f_meV_per_atom"].notna()]
    if data.empty:
        return None
    fig, ax = plt.subplots(figsize=(5, 5))
    keys = sorted({(r.potential, r.protocol) for r in data.itertuples()})
    colours = _colours([f"{p} ({q})" for p, q in keys])
    have_reference = data["reference_E_f_meV_per_atom"].notna().any()
    for potential, protocol in keys:
        mine = data[(data["potential"] == potential) & (data["protocol"] == protocol)]
        label = f"{potential} ({protocol})"
        if have_reference:
            ax.scatter(mine["reference_E_f_meV_per_atom"], mine["E_f_meV_per_atom"], color=colours[label],
                       label=label)
        else:
            ax.scatter(range(len(mine)), mine["E_f_meV_per_atom"], color=colours[label], label=label)
            ax.set_xticks(range(len(mine)), mine["structure"], rotation=45)
    if have_reference:
        values = pd.concat([data["reference_E_f_meV_per_atom"], data["E_f_meV_per_atom"]]).dropna()
        low, high = values.min() - 5, values.max() + 5
        ax.plot([low, high], [low, high], "k--", lw=1)
        ax.set_xlabel("reference E_f (meV/atom)")
    ax.set_ylabel("predicted E_f (meV/atom)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def melt_quench_figure(table: pd.DataFrame, path: Path) -> Path | None:
    """Temperature (and thermostat target), density and PS4 fraction along each melt-quench run."""
    data = table[table["time_ps"].notna()]
    if data.empty:
        return None
    fig, axes = plt.subplots(3, 1, figsize=(6.5, 7.5), sharex=True)
    potentials = sorted(data["potential"].unique())
    colours = _colours(potentials)
    styles = ["-", "--", ":", "-."]
    for potential in potentials:
        mine = data[data["potential"] == potential]
        for k, run_id in enumerate(sorted(mine["run_id"].unique())):
            run = mine[mine["run_id"] == run_id].sort_values("time_ps")
            style = dict(color=colours[potential], ls=styles[k % len(styles)], lw=1.2)
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
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, na_rep="–", float_format=lambda v: f"{v:.4g}", border=0, classes="t")


def _image_html(path: Path | None, caption: str) -> str:
    if path is None:
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)} ({html.escape(path.name)})</figcaption></figure>")


def summary_by_potential(results: dict[str, pd.DataFrame | None], summary: dict) -> pd.DataFrame:
    """One row per potential, side by side: σ298, Ea, band flag, formation RMSE, force RMSE, robustness."""
    potentials = summary.get("potentials", [])
    rows = []
    for potential in potentials:
        row: dict = {"potential": potential}
        fit = (summary.get("conductivity") or {}).get(potential)
        if fit:
            row["σ298 (mS/cm)"] = fit.get("sigma298_mS_per_cm")
            row["± σ298"] = fit.get("sigma298_err_mS_per_cm")
            row["Ea (eV)"] = fit.get("ea_eV")
            row["± Ea"] = fit.get("ea_err_eV")
            row["vs literature"] = fit.get("literature_flag")
        for item in ((summary.get("formation") or {}).get("rmse") or {}).values():
            if item["potential"] == potential:
                row[f"RMSE E_f {item['protocol']} (meV/atom)"] = item.get("rmse_E_f_meV_per_atom")
        forces = results.get("forces.csv")
        if forces is not None:
            mine = forces[forces["potential"] == potential]
            if len(mine):
                row["RMSE F (eV/Å)"] = mine["force_rmse_eV_per_A"].mean()
        robustness = results.get("robustness.csv")
        if robustness is not None:
            mine = robustness[robustness["potential"] == potential]
            if len(mine):
                row["conditions all survived"] = f"{int((mine['survival'] == 'all').sum())}/{len(mine)}"
        rows.append(row)
    return pd.DataFrame(rows)


def write_report(campaign_dir: Path) -> Path:
    """Write report/index.html and its PNGs from results/ only; return the path of index.html."""
    campaign_dir = Path(campaign_dir)
    results_dir = campaign_dir / "results"
    summary_path = results_dir / "summary.json"
    if not summary_path.is_file():
        raise AnalysisError(f"no results/summary.json in {campaign_dir} (run 'harness analyze' first)")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    out = campaign_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    names = ["conductivity.csv", "conductivity_runs.csv", "robustness.csv", "formation.csv", "forces.csv",
             "forces_frames.csv", "li_jumps.csv", "melt_quench.csv"]
    tables = {name: _read(results_dir, name) for name in names}
    sections: list[str] = []
    overview = summary_by_potential(tables, summary)
    sections.append("<h2>Summary by potential</h2>" + _table_html(overview))
    conductivity = tables["conductivity.csv"]
    if conductivity is not None and len(conductivity):
        figure = arrhenius_figure(conductivity, tables["conductivity_runs.csv"], out / "arrhenius.png")
        sections.append("<h2>Task 3: ionic conductivity of Li7P3S11</h2>"
                        + _image_html(figure, "Arrhenius plot: repeats hollow, means filled, fit solid, "
                                      "extrapolation to 298 K dotted, literature band grey")
                        + _table_html(conductivity))
        if tables["conductivity_runs.csv"] is not None:
            sections.append("<h3>Per run</h3>" + _table_html(tables["conductivity_runs.csv"]))
        jumps = tables["li_jumps.csv"]
        if jumps is not None and len(jumps):
            sections.append("<h3>Li jump statistics (beyond the paper)</h3><p>Hops between the sites of the first "
                            "frame's Li positions, with a capture radius; residence times between two hops.</p>"
                            + _table_html(jumps))
    robustness = tables["robustness.csv"]
    if robustness is not None and len(robustness):
        figure = robustness_figure(robustness, out / "robustness.png")
        sections.append("<h2>Task 4: robustness</h2>"
                        + _image_html(figure, "Survival on the T-p grid (green all, pale green some, white none); "
                                      "cells: frames with a close contact (%)") + _table_html(robustness))
    formation = tables["formation.csv"]
    if formation is not None and len(formation):
        figure = formation_figure(formation, out / "formation.png")
        sections.append("<h2>Task 1: formation energies</h2>"
                        + _image_html(figure, "Formation energy parity") + _table_html(formation))
    forces = tables["forces.csv"]
    frames = tables["forces_frames.csv"]
    if forces is not None and len(forces):
        figure = forces_figure(frames, out / "forces.png") if frames is not None and len(frames) else None
        sections.append("<h2>Task 2: force errors</h2>"
                        + _image_html(figure, "Force RMSE along the trajectory") + _table_html(forces))
    melt = tables["melt_quench.csv"]
    if melt is not None and len(melt):
        figure = melt_quench_figure(melt, out / "melt_quench.png")
        per_run = melt.groupby("run_id", sort=True).agg(
            potential=("potential", "first"), variant=("variant", "first"), state=("state", "first"),
            frames=("frame", "count"), final_density_g_cm3=("density_g_cm3", "last"),
            min_p_s4_fraction=("p_s4_fraction", "min"), final_p_s4_fraction=("p_s4_fraction", "last"),
            message=("message", "first")).reset_index()
        sections.append("<h2>Task 2 trajectory: melt-quench</h2>"
                        + _image_html(figure, "Temperature, density and fraction of P with four S neighbours "
                                      "along the melt-quench") + _table_html(per_run))
    notes = summary.get("notes", [])
    failed = summary.get("failed_runs", [])
    if failed:
        sections.append("<h2>Failed runs</h2>" + _table_html(pd.DataFrame(failed)))
    if notes:
        sections.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    title = html.escape(f"LiPS-25 benchmark report: {summary.get('campaign') or campaign_dir.name}")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;}}
table.t{{border-collapse:collapse;font-size:12px;margin-bottom:1em}}
table.t td,table.t th{{border:1px solid #ccc;padding:2px 6px}} img{{max-width:100%}}</style></head>
<body><h1>{title}</h1>
<p>Runs by state: {html.escape(json.dumps(summary.get("runs_by_state", {})))}.
Conductivities by Nernst–Einstein from Arrhenius-extrapolated D(298 K); literature band from the LiPS-25
paper's Table 2.</p>
{''.join(sections)}
</body></html>
"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
