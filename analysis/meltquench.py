"""Melt-quench runs (the Task 2 trajectory): per frame temperature, density and a structural check.

Units: ps, K, Å, g/cm^3. For each frame of ``traj.lammpstrj`` (``id element x y z``, wrapped, a triclinic cell
for the NPT variant):

* ``time_ps`` = timestep x the MD time step (the run's step 0 is time 0); ``phase`` (``heat``, ``hold``,
  ``quench``, ``anneal``) and the thermostat target ``T_target_K`` from the protocol in run.json (T_low -> T_high
  at the heating rate, hold, T_high -> T_final at the quench rate, anneal at T_final; T_final = T_low unless the
  run is an Iter2 grid point);
* ``T_K``, ``pe_eV``, ``press_bar`` from ``progress.dat`` (columns ``step time_ps T_K pe_eV press_bar vol_A3``):
  the line at the frame's step, else linear interpolation between the two lines around it, else empty. A
  step written twice (a resumed run) keeps its last line; comment and malformed (cut) lines are skipped;
* ``density_g_cm3`` from the frame's cell volume and the masses of its atoms (standard atomic weights);
* ``p_s4_fraction``: the fraction of P atoms with exactly four S neighbours within ``cutoff_A`` (2.5 Å by
  default) under periodic boundaries, i.e. intact PS4 tetrahedra, and ``p_s_coordination`` the mean number of S
  within the cutoff per P. A potential that keeps ~1 in the crystal, the melt and the glass keeps the
  thiophosphate building blocks; a drop flags broken (or over-coordinated) units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from scipy.spatial import cKDTree

from analysis.contacts import _ghosts, _wrapped_fractional
from analysis.dump import Box, DumpReader, choose_position_columns, frame_positions_A, read_columns
from analysis.errors import AnalysisError
from harness.elements import mass_amu
from harness.units import AVOGADRO_PER_MOL, fs_to_ps

DEFAULT_CUTOFF_A = 2.5
CM3_PER_A3 = 1.0e-24


@dataclass
class Progress:
    """progress.dat as arrays sorted by step (one line per step, the last occurrence kept)."""

    step: np.ndarray
    time_ps: np.ndarray
    T_K: np.ndarray
    pe_eV: np.ndarray
    press_bar: np.ndarray
    vol_A3: np.ndarray

    def at(self, name: str, step: int) -> float:
        """Value of a column at a step: exact line, else linear interpolation; NaN outside the range."""
        values = getattr(self, name)
        if not len(self.step) or step < self.step[0] or step > self.step[-1]:
            return float("nan")
        return float(np.interp(step, self.step, values))


def read_progress(path: Path | str) -> Progress:
    """Parse progress.dat (docs/run-directory.md); a missing file gives an empty table."""
    rows: dict[int, list[float]] = {}
    path = Path(path)
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split()
            if not fields or fields[0].startswith("#") or len(fields) != 6:
                continue
            try:
                step = int(fields[0])
                values = [float(v) for v in fields[1:]]
            except ValueError:
                continue
            rows.pop(step, None)  # a resumed run rewrites later steps: the last occurrence wins
            rows[step] = values
    steps = np.array(sorted(rows), dtype=np.int64)
    table = np.array([rows[s] for s in steps], dtype=float).reshape(-1, 5)
    return Progress(step=steps, time_ps=table[:, 0], T_K=table[:, 1], pe_eV=table[:, 2], press_bar=table[:, 3],
                    vol_A3=table[:, 4])


def protocol_target(params: dict[str, Any], time_ps: float) -> tuple[str, float]:
    """(phase, thermostat target in K) at a time of the melt-quench protocol of run.json ``params``: heat
    T_low -> T_high, hold, quench T_high -> T_final (T_low when run.json has no T_final_K), anneal at T_final."""
    low, high = float(params["T_low_K"]), float(params["T_high_K"])
    final = float(params.get("T_final_K", low))
    heat_end = (high - low) / float(params["heating_rate_K_per_ps"])
    hold_end = heat_end + float(params.get("hold_ps", 0.0))
    quench_end = hold_end + (high - final) / float(params["quench_rate_K_per_ps"])
    if time_ps <= heat_end:
        return "heat", low + (high - low) * time_ps / heat_end if heat_end > 0 else high
    if time_ps <= hold_end:
        return "hold", high
    if time_ps <= quench_end or not float(params.get("anneal_ps") or 0.0) > 0:
        return "quench", max(final, high - float(params["quench_rate_K_per_ps"]) * (time_ps - hold_end))
    return "anneal", final


def coordination(positions_A: np.ndarray, box: Box, centres: np.ndarray, neighbours: np.ndarray,
                 cutoff_A: float) -> np.ndarray:
    """Number of ``neighbours`` atoms within ``cutoff_A`` of each ``centres`` atom (boolean masks), periodic."""
    if cutoff_A >= 0.5 * float(box.heights_A().min()):
        raise AnalysisError(f"coordination cutoff {cutoff_A} Å is not smaller than half the cell width")
    if not centres.any():
        return np.zeros(0, dtype=np.int64)
    if not neighbours.any():
        return np.zeros(int(centres.sum()), dtype=np.int64)
    points, _ = _ghosts(_wrapped_fractional(positions_A[neighbours], box), box, cutoff_A)
    tree = cKDTree(points)
    query = _wrapped_fractional(positions_A[centres], box) @ box.matrix
    counts = tree.query_ball_point(query, r=cutoff_A, return_length=True)
    return np.asarray(counts, dtype=np.int64)


@dataclass
class MeltQuenchFrame:
    frame: int
    step: int
    time_ps: float
    phase: str
    T_target_K: float
    T_K: float
    pe_eV: float
    press_bar: float
    volume_A3: float
    density_g_cm3: float
    n_P: int
    p_s4_fraction: float
    p_s_coordination: float


def iter_melt_quench(dump: Path | str, params: dict[str, Any], progress: Progress | None = None,
                     cutoff_A: float = DEFAULT_CUTOFF_A, allow_truncated: bool = False) -> Iterator[MeltQuenchFrame]:
    """Per-frame melt-quench observables (see the module docstring) of one run's dump."""
    timestep_ps = fs_to_ps(float(params["timestep_fs"]))
    names = read_columns(dump)
    if "element" not in names:
        raise AnalysisError(f"{dump} has no 'element' column: cannot tell P from S")
    mode, columns = choose_position_columns(names)
    reader = DumpReader(dump, columns=columns + ["id", "element"], allow_truncated=allow_truncated)
    masses: float | None = None
    phosphorus = sulfur = None
    for index, frame in enumerate(reader):
        if masses is None:
            elements = frame.column("element")
            masses = float(sum(mass_amu(str(e)) for e in elements))
            phosphorus, sulfur = elements == "P", elements == "S"
            if "id" in names:  # rows sorted by id: the labels of the first frame hold for all
                reader.set_columns(columns + ["id"])
        positions = frame_positions_A(frame, mode)
        time_ps = frame.timestep * timestep_ps
        phase, target = protocol_target(params, time_ps)
        counts = coordination(positions, frame.box, phosphorus, sulfur, cutoff_A)
        volume = frame.box.volume_A3
        yield MeltQuenchFrame(
            frame=index, step=frame.timestep, time_ps=time_ps, phase=phase, T_target_K=target,
            T_K=progress.at("T_K", frame.timestep) if progress else math.nan,
            pe_eV=progress.at("pe_eV", frame.timestep) if progress else math.nan,
            press_bar=progress.at("press_bar", frame.timestep) if progress else math.nan,
            volume_A3=volume, density_g_cm3=masses / AVOGADRO_PER_MOL / (volume * CM3_PER_A3),
            n_P=int(len(counts)), p_s4_fraction=float(np.mean(counts == 4)) if len(counts) else math.nan,
            p_s_coordination=float(counts.mean()) if len(counts) else math.nan)


def melt_quench_run(directory: Path | str, params: dict[str, Any], cutoff_A: float = DEFAULT_CUTOFF_A,
                    allow_truncated: bool = False) -> list[MeltQuenchFrame]:
    """All frames of a run directory (traj.lammpstrj + progress.dat)."""
    directory = Path(directory)
    dump = directory / "traj.lammpstrj"
    if not dump.is_file():
        raise AnalysisError(f"traj.lammpstrj missing in {directory}")
    return list(iter_melt_quench(dump, params, read_progress(directory / "progress.dat"), cutoff_A,
                                 allow_truncated=allow_truncated))
