"""A whole campaign: manifest.json + runs/*/ -> results/*.csv and results/summary.json.

Reads only the files described in docs/run-directory.md; the columns written are documented in
docs/results.md. Runs that failed or are unfinished are reported in the tables and in summary.json,
never silently dropped. Only the tables of tasks present in the manifest are written.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis import arrhenius, formation, snapshots
from analysis.contacts import DEFAULT_THRESHOLD_A, iter_frame_contacts
from analysis.errors import AnalysisError
from analysis.forces import force_errors_from_files
from analysis.jumps import DEFAULT_CAPTURE_RADIUS_A, JumpCollector
from analysis.meltquench import DEFAULT_CUTOFF_A, melt_quench_run
from analysis.msd import diffusion_from_trajectory, load_trajectory
from analysis.robustness import FrameCounts, RobustnessRun, group_conditions, md_frame_counts, read_relax_record
from harness.rundir import read_json
from harness.units import PA_PER_GPA, fs_to_ps

CONDUCTIVITY_RUN_COLUMNS = [
    "potential", "temperature_K", "repeat", "run_id", "state", "reason", "used_in_fit", "n_li", "volume_A3",
    "nframes", "duration_ps", "fit_start_ps", "fit_end_ps", "d_cm2_per_s", "d_err_cm2_per_s", "d_x_cm2_per_s",
    "d_y_cm2_per_s", "d_z_cm2_per_s", "sigma_mS_per_cm", "d_sigma_cm2_per_s", "haven_ratio", "message"]
CONDUCTIVITY_COLUMNS = [
    "potential", "kind", "temperature_K", "n_repeats", "n_used", "n_failed", "n_unfinished", "d_cm2_per_s",
    "d_err_cm2_per_s", "sigma_mS_per_cm", "sigma_err_mS_per_cm", "ea_eV", "ea_err_eV", "n_temperatures",
    "li_density_per_A3", "literature_band", "band_low_mS_per_cm", "band_high_mS_per_cm", "literature_flag",
    "haven_ratio", "note"]
ROBUSTNESS_COLUMNS = [
    "potential", "temperature_K", "pressure_Pa", "pressure_GPa", "n_repeats", "n_survived", "n_failed",
    "n_unfinished", "n_incomplete", "survival", "times_to_failure_ps", "failure_reasons", "incomplete_reasons",
    "n_frames", "n_contact_frames", "close_contact_percent", "close_contact_label", "min_distance_A", "threshold_A",
    "n_relaxed", "n_relax_converged", "relax_iterations", "relax_max_force_eV_per_A"]
ROBUSTNESS_RUN_COLUMNS = [
    "potential", "temperature_K", "pressure_Pa", "repeat", "run_id", "state", "reason", "outcome", "time_reached_ps",
    "n_frames", "n_contact_frames", "min_distance_A", "relax_converged", "relax_iterations", "relax_max_iterations",
    "relax_max_force_eV_per_A", "relax_force_norm_eV_per_A", "message"]
FORMATION_COLUMNS = [
    "potential", "protocol", "structure", "run_id", "state", "natoms", "energy_eV", "energy_per_atom_eV", "x",
    "E_f_meV_per_atom", "reference_E_f_meV_per_atom", "error_meV_per_atom", "note"]
LI_JUMPS_COLUMNS = [
    "potential", "temperature_K", "repeat", "run_id", "state", "n_li", "n_sites", "nframes", "duration_ps",
    "capture_radius_A", "min_site_separation_A", "n_hops", "hop_rate_per_li_per_ps", "fraction_li_hopped",
    "n_residences", "n_censored_residences", "mean_residence_ps", "median_residence_ps", "back_hop_fraction",
    "mean_hop_length_A", "d_jump_cm2_per_s", "d_msd_cm2_per_s", "message"]
MELT_QUENCH_COLUMNS = [
    "potential", "run_id", "variant", "repeat", "state", "frame", "step", "time_ps", "phase", "T_target_K", "T_K",
    "pe_eV", "press_bar", "volume_A3", "density_g_cm3", "n_P", "p_s4_fraction", "p_s_coordination", "cutoff_A",
    "message"]
FORCES_COLUMNS = [
    "potential", "run_id", "state", "nframes", "force_rmse_eV_per_A", "force_mae_eV_per_A",
    "energy_rmse_meV_per_atom", "energy_mae_meV_per_atom", "energy_rmse_raw_meV_per_atom", "note"]
FORCES_FRAME_COLUMNS = [
    "potential", "run_id", "frame", "temperature_K", "phase", "force_rmse_eV_per_A", "force_mae_eV_per_A",
    "energy_error_meV_per_atom"]


@dataclass
class RunInfo:
    """A run of the manifest with its run.json and status.json (state 'pending' when status.json is absent)."""

    run_id: str
    task: str
    potential: str
    directory: Path
    spec: dict[str, Any]
    status: dict[str, Any]

    @property
    def params(self) -> dict[str, Any]:
        return self.spec.get("params", {})

    @property
    def state(self) -> str:
        return str(self.status.get("state", "pending"))

    @property
    def repeat(self) -> int:
        return int(self.spec.get("repeat", 1))


@dataclass
class Options:
    """Analysis settings: fit window (ps, None = default), blocks, contact threshold (Å), literature band,
    reference CSV for formation energies, Li site capture radius (Å, jumps), P-S cutoff (Å, melt-quench)."""

    fit_start_ps: float | None = None
    fit_end_ps: float | None = None
    n_blocks: int = 5
    threshold_A: float = DEFAULT_THRESHOLD_A
    band: str = "crystal"
    formation_reference: Path | None = None
    capture_radius_A: float = DEFAULT_CAPTURE_RADIUS_A
    coordination_cutoff_A: float = DEFAULT_CUTOFF_A
    snapshots: bool = True    # OVITO pictures of robustness and melt-quench frames (analysis/snapshots.py)


@dataclass
class Summary:
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def load_runs(campaign_dir: Path) -> tuple[dict[str, Any], list[RunInfo]]:
    """The manifest and its runs. An absent or empty manifest is an error."""
    if not campaign_dir.is_dir():
        raise AnalysisError(f"campaign directory not found: {campaign_dir}")
    manifest_path = campaign_dir / "manifest.json"
    if not manifest_path.is_file():
        raise AnalysisError(f"no manifest.json in {campaign_dir} (run 'harness render' first)")
    manifest = read_json(manifest_path)
    entries = manifest.get("runs") or []
    if not entries:
        raise AnalysisError(f"{manifest_path} lists no runs: nothing to analyse")
    runs = []
    for entry in entries:
        directory = campaign_dir / entry.get("dir", f"runs/{entry['run_id']}")
        spec = read_json(directory / "run.json")
        status_path = directory / "status.json"
        status = read_json(status_path) if status_path.is_file() else {"state": "pending"}
        runs.append(RunInfo(run_id=entry["run_id"], task=entry.get("task", spec.get("task", "")),
                            potential=entry.get("potential", spec.get("potential", "")), directory=directory,
                            spec=spec, status=status))
    return manifest, runs


def _fmt(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(float(value)) else f"{float(value):.8g}"
    return value


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _fmt(row.get(c)) for c in columns})
    return path


def _failure_text(run: RunInfo) -> str:
    parts = [p for p in (run.status.get("reason"), run.status.get("message")) if p]
    return ": ".join(str(p) for p in parts)


# -- Task 3 -----------------------------------------------------------------------------------------
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
            row["message"] = _failure_text(run) or f"run is {run.state}"
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


# -- Task 4 -----------------------------------------------------------------------------------------
def robustness_table(runs: list[RunInfo], options: Options, summary: Summary,
                     run_rows: list[dict] | None = None) -> list[dict]:
    """One row per condition; ``run_rows`` (if given) receives one row per run. Only MD frames after t = 0
    are counted (see analysis/robustness.py)."""
    records = []
    for run in runs:
        params = run.params
        timestep_ps = fs_to_ps(float(params["timestep_fs"]))
        counts = FrameCounts()
        message = _failure_text(run) or None
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


# -- Task 1 -----------------------------------------------------------------------------------------
def formation_table(runs: list[RunInfo], options: Options, summary: Summary,
                    campaign_dir: Path) -> list[dict]:
    rows = []
    for run in runs:
        structure = formation.canonical_name(str(run.params.get("structure", run.spec.get("structure", ""))))
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
                row["x"] = formation.tie_line_x(counts)
            except AnalysisError as error:
                row["note"] = str(error)
        else:
            if run.state != "done":
                row["note"] = _failure_text(run) or f"run is {run.state}"
            else:
                row["note"] = "result.json missing"
        row["_counts"] = counts
        rows.append(row)

    reference: dict[str, float] = {}
    reference_path = options.formation_reference
    if reference_path is None and (campaign_dir / "formation_reference.csv").is_file():
        reference_path = campaign_dir / "formation_reference.csv"
    if reference_path is not None:
        reference, note = formation.read_reference(Path(reference_path), {r["structure"] for r in rows})
        if note:
            summary.notes.append(note)
    else:
        summary.notes.append("no formation reference CSV (structure,E_f_meV_per_atom): RMSE(E_f) not computed")

    rmse: dict[str, Any] = {}
    structures = {r["structure"] for r in rows}
    lacking = formation.missing_crystals(structures)
    if lacking:
        summary.notes.append(f"formation: the campaign lacks {len(lacking)} of the paper's eight crystals: "
                             f"{', '.join(lacking)}")
    for key in sorted({(r["potential"], r["protocol"]) for r in rows}):
        group = [r for r in rows if (r["potential"], r["protocol"]) == key]
        ends = {r["structure"]: r for r in group if r["structure"] in formation.END_POINTS and "energy_eV" in r}
        missing_ends = [e for e in formation.END_POINTS if e not in ends]
        if missing_ends:
            message = (f"E_f cannot be computed for {key[0]} ({key[1]}): end-point energy of "
                       f"{' and '.join(missing_ends)} missing (both Li2S and P2S5 are required, from the "
                       "same potential and protocol); raw energies reported")
            summary.notes.append(message)
        errors = []
        for row in group:
            if "energy_eV" not in row:
                continue
            if row["structure"] in formation.END_POINTS:
                if not missing_ends:   # eq. (1) at x = 0 or 1: zero by definition, left out of RMSE(E_f)
                    row["E_f_meV_per_atom"] = 0.0
                    row["note"] = "end-point: E_f = 0 by eq. (1); not in RMSE(E_f)"
                continue
            if not missing_ends and "x" in row:
                row["E_f_meV_per_atom"] = formation.formation_energy_meV_per_atom(
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
                                      "rmse_E_f_meV_per_atom": formation.rmse(errors) if errors else None,
                                      "n_structures": len(errors), "missing_end_points": missing_ends}
    summary.data["formation"] = {"rmse": rmse, "missing_crystals": lacking,
                                 "reference": str(reference_path) if reference_path else None}
    for row in rows:
        row.pop("_counts")
    rows.sort(key=lambda r: (r["potential"], r["protocol"], r["structure"]))
    return rows


# -- Task 2 -----------------------------------------------------------------------------------------
def forces_tables(runs: list[RunInfo], summary: Summary) -> tuple[list[dict], list[dict]]:
    rows, frame_rows = [], []
    overall = {}
    reference_names = set()
    for run in runs:
        row: dict[str, Any] = {"potential": run.potential, "run_id": run.run_id, "state": run.state}
        reference = run.directory / str(run.params.get("reference", "reference.extxyz"))
        reference_names.add(Path(str(run.params.get("reference_source") or reference)).name)
        dump = run.directory / "forces.lammpstrj"
        if run.state != "done":
            row["note"] = _failure_text(run) or f"run is {run.state}"
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


# -- Task 2 trajectory: melt-quench -------------------------------------------------------------------
def melt_quench_table(runs: list[RunInfo], options: Options, summary: Summary) -> list[dict]:
    """One row per frame of every melt-quench run; a run without frames is one row with its message."""
    rows: list[dict] = []
    for run in sorted(runs, key=lambda r: (r.potential, r.run_id)):
        base = {"potential": run.potential, "run_id": run.run_id, "variant": run.params.get("variant"),
                "repeat": run.repeat, "state": run.state, "cutoff_A": options.coordination_cutoff_A}
        message = None if run.state == "done" else (_failure_text(run) or f"run is {run.state}")
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


def analyze_campaign(campaign_dir: Path, options: Options | None = None) -> list[Path]:
    """Analyse every run of a campaign; write results/*.csv and results/summary.json; return the paths."""
    options = options or Options()
    campaign_dir = Path(campaign_dir)
    manifest, runs = load_runs(campaign_dir)
    results = campaign_dir / "results"
    summary = Summary()
    written: list[Path] = []
    by_task: dict[str, list[RunInfo]] = {}
    for run in runs:
        by_task.setdefault(run.task, []).append(run)
    if "conductivity" in by_task:
        jump_rows: list[dict] = []
        rows, run_rows = conductivity_tables(by_task["conductivity"], options, summary, jump_rows)
        written.append(write_csv(results / "conductivity.csv", CONDUCTIVITY_COLUMNS, rows))
        written.append(write_csv(results / "conductivity_runs.csv", CONDUCTIVITY_RUN_COLUMNS, run_rows))
        jump_rows.sort(key=lambda r: (r["potential"], r["temperature_K"], r["repeat"]))
        written.append(write_csv(results / "li_jumps.csv", LI_JUMPS_COLUMNS, jump_rows))
    shots: list[snapshots.Shot] = []
    if "melt_quench" in by_task:
        rows = melt_quench_table(by_task["melt_quench"], options, summary)
        written.append(write_csv(results / "melt_quench.csv", MELT_QUENCH_COLUMNS, rows))
        shots += snapshots.melt_quench_shots(by_task["melt_quench"], rows)
    if "robustness" in by_task:
        run_rows: list[dict] = []
        rows = robustness_table(by_task["robustness"], options, summary, run_rows)
        written.append(write_csv(results / "robustness.csv", ROBUSTNESS_COLUMNS, rows))
        written.append(write_csv(results / "robustness_runs.csv", ROBUSTNESS_RUN_COLUMNS, run_rows))
        shots = snapshots.robustness_shots(by_task["robustness"]) + shots
    if options.snapshots and shots:
        for old in (results / "snapshots").glob("*.png"):
            old.unlink()
        rows, notes = snapshots.write_snapshots(shots, results / "snapshots", {r.run_id: r.state for r in runs})
        summary.notes.extend(notes)
        written.append(write_csv(results / "snapshots.csv", snapshots.SNAPSHOT_COLUMNS, rows))
    formation_runs = by_task.get("relax", []) + by_task.get("single_point", [])
    if formation_runs:
        rows = formation_table(formation_runs, options, summary, campaign_dir)
        written.append(write_csv(results / "formation.csv", FORMATION_COLUMNS, rows))
    if "forces" in by_task:
        rows, frame_rows = forces_tables(by_task["forces"], summary)
        written.append(write_csv(results / "forces.csv", FORCES_COLUMNS, rows))
        written.append(write_csv(results / "forces_frames.csv", FORCES_FRAME_COLUMNS, frame_rows))
    other = sorted(set(by_task) - {"conductivity", "robustness", "relax", "single_point", "forces", "melt_quench"})
    if other:
        summary.notes.append(f"tasks not analysed here: {', '.join(other)}")
    states: dict[str, int] = {}
    for run in runs:
        states[run.state] = states.get(run.state, 0) + 1
    document = {
        "campaign": manifest.get("campaign"), "campaign_sha256": manifest.get("campaign_sha256"),
        "potentials": sorted({r.potential for r in runs}), "tasks": sorted(by_task),
        "runs_by_state": states,
        "failed_runs": [{"run_id": r.run_id, "task": r.task, "potential": r.potential,
                         "reason": r.status.get("reason"), "message": r.status.get("message"),
                         "time_ps": r.status.get("time_ps")} for r in runs if r.state == "failed"],
        "unfinished_runs": [r.run_id for r in runs if r.state in ("pending", "running")],
        "options": {"fit_start_ps": options.fit_start_ps, "fit_end_ps": options.fit_end_ps,
                    "n_blocks": options.n_blocks, "threshold_A": options.threshold_A, "band": options.band,
                    "capture_radius_A": options.capture_radius_A,
                    "coordination_cutoff_A": options.coordination_cutoff_A, "snapshots": options.snapshots},
        **summary.data,
        "notes": summary.notes,
        "files": [p.name for p in written],
    }
    summary_path = results / "summary.json"
    results.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(_clean(document), indent=2) + "\n", encoding="utf-8")
    written.append(summary_path)
    return written


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN and infinities to null."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    return value
