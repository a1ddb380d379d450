"""Mean-squared displacement (MSD) of one species and its diffusion coefficient.

Units: positions in Å, time in ps, MSD in Å^2, D in cm^2/s (converted by :mod:`harness.units`).

* Coordinates: unwrapped (``xu yu zu``), wrapped + image flags (``x y z ix iy iz``), or wrapped only,
  unwrapped here by the minimum-image convention between consecutive frames in the (triclinic) cell.
  The last needs frames close enough that no atom moves half a cell between two of them.
* Every frame is a time origin: the MSD at lag m averages over all N - m origins (FFT algorithm of
  Calandrini et al., computed for chunks of atoms to bound memory).
* Only displacements of the selected atoms are stored, in float32 relative to the first frame:
  1000 atoms x 10,000 frames take 120 MB.
* D = slope / (2 d) of a straight-line fit of MSD(t) over the fit window (d = 3 for the total MSD,
  1 per axis). The window excludes the ballistic start. The uncertainty is the standard error over
  ``n_blocks`` consecutive blocks of the trajectory, each analysed with the same fit window.
* The collective (centre-of-mass) MSD of the species gives D_sigma, the "charge" diffusion coefficient
  for a single mobile species; the Haven ratio is D_tracer / D_sigma (beyond the paper).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from analysis.dump import DumpReader, Frame, choose_position_columns, frame_positions_A, read_columns, select_atoms
from analysis.errors import AnalysisError
from harness.units import a2_per_ps_to_cm2_per_s

ATOM_CHUNK = 64


@dataclass
class Trajectory:
    """Displacements of the selected atoms from their first-frame positions.

    ``displacement_A`` has shape (nframes, natoms, 3), float32, Å; ``time_ps`` (nframes,) starts at 0.
    """

    time_ps: np.ndarray
    displacement_A: np.ndarray
    volume_A3: float
    natoms_selected: int
    natoms_total: int
    mode: str
    timesteps: np.ndarray
    dropped_truncated: bool = False


@dataclass
class DiffusionResult:
    """MSD curves and the fitted diffusion coefficients (D in cm^2/s, times in ps, MSD in Å^2)."""

    lag_ps: np.ndarray
    msd_A2: np.ndarray
    msd_axes_A2: np.ndarray
    d_cm2_per_s: float
    d_err_cm2_per_s: float
    d_axes_cm2_per_s: tuple[float, float, float]
    fit_start_ps: float
    fit_end_ps: float
    n_blocks: int
    block_d_cm2_per_s: list[float]
    natoms: int
    nframes: int
    volume_A3: float
    duration_ps: float
    collective_msd_A2: np.ndarray | None = None
    d_sigma_cm2_per_s: float = float("nan")
    d_sigma_err_cm2_per_s: float = float("nan")
    haven_ratio: float = float("nan")
    mode: str = ""
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "d_cm2_per_s": self.d_cm2_per_s, "d_err_cm2_per_s": self.d_err_cm2_per_s,
            "d_x_cm2_per_s": self.d_axes_cm2_per_s[0], "d_y_cm2_per_s": self.d_axes_cm2_per_s[1],
            "d_z_cm2_per_s": self.d_axes_cm2_per_s[2],
            "fit_start_ps": self.fit_start_ps, "fit_end_ps": self.fit_end_ps, "n_blocks": self.n_blocks,
            "block_d_cm2_per_s": self.block_d_cm2_per_s, "natoms": self.natoms, "nframes": self.nframes,
            "volume_A3": self.volume_A3, "duration_ps": self.duration_ps,
            "d_sigma_cm2_per_s": self.d_sigma_cm2_per_s, "d_sigma_err_cm2_per_s": self.d_sigma_err_cm2_per_s,
            "haven_ratio": self.haven_ratio, "coordinates": self.mode,
        }


def load_trajectory(path: Path | str, timestep_ps: float, species: str | None = "Li", atom_type: int | None = None,
                    allow_truncated: bool = False,
                    on_frame: Callable[[Frame, np.ndarray], None] | None = None) -> Trajectory:
    """Read a dump and keep the displacements of the selected atoms (see module docstring).

    ``timestep_ps`` is the MD time step; frame times are (timestep - first timestep) * timestep_ps.
    ``on_frame(frame, positions_A)``, if given, is called for every frame with the positions of all atoms
    as stored (wrapped or unwrapped), so that other per-frame analyses share this single pass.
    """
    if timestep_ps <= 0:
        raise AnalysisError(f"timestep must be positive, got {timestep_ps} ps")
    names = read_columns(path)
    mode, position_columns = choose_position_columns(names)
    wanted = list(position_columns)
    for extra in ("id", "element", "type"):
        if extra in names:
            wanted.append(extra)
    reader = DumpReader(path, columns=wanted, allow_truncated=allow_truncated)
    nframes_max = len(reader)
    displacement: np.ndarray | None = None
    steps: list[int] = []
    mask: np.ndarray | None = None
    reference = previous = None
    volume_A3 = float("nan")
    natoms_total = 0
    count = 0
    first_ids: np.ndarray | None = None
    for frame in reader:
        if mask is None:
            mask = select_atoms(frame, species=species, atom_type=atom_type)
            natoms_total = frame.natoms
            volume_A3 = frame.box.volume_A3
            displacement = np.empty((nframes_max, int(mask.sum()), 3), dtype=np.float32)
            # atoms are sorted by id, so the selection holds for every frame: stop parsing the labels
            if "id" in wanted:
                reader.set_columns([c for c in wanted if c not in ("element", "type")])
        if frame.natoms != natoms_total:
            raise AnalysisError(f"atom count changes from {natoms_total} to {frame.natoms} at timestep "
                                f"{frame.timestep} of {path}")
        if "id" in frame.columns:
            if first_ids is None:
                first_ids = frame.columns["id"]
            elif not np.array_equal(frame.columns["id"], first_ids):
                raise AnalysisError(f"atom ids at timestep {frame.timestep} of {path} differ from those of the first "
                                    "frame: an MSD needs the same atoms in every frame")
        all_positions = frame_positions_A(frame, mode)
        if not np.isfinite(all_positions).all():
            raise AnalysisError(f"non-finite coordinate (nan or inf) at timestep {frame.timestep} of {path}")
        if on_frame is not None:
            on_frame(frame, all_positions)
        positions = all_positions[mask]
        if mode in ("wrapped", "scaled"):
            if previous is None:
                unwrapped = positions
            else:
                step = positions - previous_wrapped
                fractional = step @ frame.box.inverse
                fractional -= np.round(fractional)
                unwrapped = previous + fractional @ frame.box.matrix
            previous_wrapped = positions
            previous = unwrapped
            positions = unwrapped
        if reference is None:
            reference = positions.copy()
        displacement[count] = positions - reference
        steps.append(frame.timestep)
        count += 1
    if count == 0 or displacement is None:
        raise AnalysisError(f"no complete frame in {path}")
    timesteps = np.array(steps, dtype=np.int64)
    return Trajectory(time_ps=(timesteps - timesteps[0]) * timestep_ps, displacement_A=displacement[:count],
                      volume_A3=volume_A3, natoms_selected=int(mask.sum()), natoms_total=natoms_total,
                      mode=mode, timesteps=timesteps, dropped_truncated=reader.dropped_truncated)


def _autocorrelation_sum(x: np.ndarray) -> np.ndarray:
    """sum over columns of sum_{k} x[k] x[k+m], for m = 0..N-1; x has shape (N, ncols), float64."""
    n = x.shape[0]
    size = 1
    while size < 2 * n:
        size *= 2
    spectrum = np.fft.rfft(x, n=size, axis=0)
    power = (spectrum * spectrum.conj()).real.sum(axis=1)
    return np.fft.irfft(power, n=size)[:n]


def _square_sum_term(x: np.ndarray) -> np.ndarray:
    """sum over columns of sum_{k=0}^{N-m-1} (x[k]^2 + x[k+m]^2), for m = 0..N-1."""
    n = x.shape[0]
    squares = (x * x).sum(axis=1)
    prefix = np.concatenate([[0.0], np.cumsum(squares)])
    m = np.arange(n)
    # sum_{k=0}^{N-m-1} s_k  +  sum_{k=m}^{N-1} s_k
    return prefix[n - m] + (prefix[n] - prefix[m])


def msd_all_origins(displacement_A: np.ndarray, chunk: int = ATOM_CHUNK) -> np.ndarray:
    """Per-axis MSD (N, 3) in Å^2 averaged over atoms and all time origins, for lags 0..N-1 frames."""
    n, natoms, _ = displacement_A.shape
    out = np.zeros((n, 3))
    for start in range(0, natoms, chunk):
        block = displacement_A[:, start:start + chunk, :].astype(np.float64)
        for axis in range(3):
            x = block[:, :, axis]
            out[:, axis] += _square_sum_term(x) - 2.0 * _autocorrelation_sum(x)
    counts = (n - np.arange(n)).astype(np.float64)
    return out / counts[:, None] / natoms


def msd_first_origin(displacement_A: np.ndarray) -> np.ndarray:
    """Per-axis MSD (N, 3) in Å^2 from the first frame only (what LAMMPS ``compute msd`` reports)."""
    n = displacement_A.shape[0]
    out = np.empty((n, 3))
    for i in range(n):
        d = displacement_A[i].astype(np.float64)
        out[i] = (d * d).mean(axis=0)
    return out


def fit_slope(lag_ps: np.ndarray, msd_A2: np.ndarray, start_ps: float, end_ps: float) -> float:
    """Least-squares slope (Å^2/ps) of MSD(t) for start_ps <= t <= end_ps (straight line with intercept)."""
    window = (lag_ps >= start_ps - 1e-9) & (lag_ps <= end_ps + 1e-9)
    if window.sum() < 2:
        raise AnalysisError(f"fit window {start_ps:g}-{end_ps:g} ps holds fewer than 2 MSD points "
                            f"(trajectory lags 0-{lag_ps[-1]:g} ps)")
    slope, _ = np.polyfit(lag_ps[window], msd_A2[window], 1)
    return float(slope)


def default_fit_window_ps(duration_ps: float, n_blocks: int) -> tuple[float, float]:
    """Default fit window: from 10% to 50% of one block's length (the ballistic start excluded)."""
    block_ps = duration_ps / max(n_blocks, 1)
    return 0.1 * block_ps, 0.5 * block_ps


def diffusion_from_trajectory(trajectory: Trajectory, fit_start_ps: float | None = None,
                              fit_end_ps: float | None = None, n_blocks: int = 5,
                              collective: bool = True) -> DiffusionResult:
    """MSD (all origins) and D with a block-averaging uncertainty; see the module docstring."""
    time_ps = trajectory.time_ps
    nframes = len(time_ps)
    if nframes < 4:
        raise AnalysisError(f"need at least 4 frames for an MSD, got {nframes}")
    spacing = np.diff(time_ps)
    if not np.allclose(spacing, spacing[0], rtol=1e-6, atol=1e-9):
        raise AnalysisError("frames are not evenly spaced in time (a gap in the dump?); "
                            f"spacings from {spacing.min():g} to {spacing.max():g} ps")
    dt_ps = float(spacing[0])
    duration_ps = float(time_ps[-1])
    n_blocks = max(1, int(n_blocks))
    default_start, default_end = default_fit_window_ps(duration_ps, n_blocks)
    start = default_start if fit_start_ps is None else float(fit_start_ps)
    end = default_end if fit_end_ps is None else float(fit_end_ps)
    if not 0 <= start < end:
        raise AnalysisError(f"bad fit window {start:g}-{end:g} ps (need 0 <= start < end)")
    block_frames = nframes // n_blocks
    if n_blocks > 1 and (block_frames - 1) * dt_ps < end - 1e-9:
        raise AnalysisError(f"fit window ends at {end:g} ps but blocks of this {duration_ps:g} ps trajectory "
                            f"are only {(block_frames - 1) * dt_ps:g} ps long; use fewer blocks or a shorter window")
    lag_ps = np.arange(nframes) * dt_ps
    axes = msd_all_origins(trajectory.displacement_A)
    total = axes.sum(axis=1)
    d_a2_ps = fit_slope(lag_ps, total, start, end) / 6.0
    d_axes = tuple(a2_per_ps_to_cm2_per_s(fit_slope(lag_ps, axes[:, k], start, end) / 2.0) for k in range(3))
    block_d: list[float] = []
    block_sigma: list[float] = []
    natoms = trajectory.natoms_selected
    if n_blocks > 1:
        for b in range(n_blocks):
            part = trajectory.displacement_A[b * block_frames:(b + 1) * block_frames]
            block_lag = lag_ps[:block_frames]
            block_total = msd_all_origins(part).sum(axis=1)
            block_d.append(a2_per_ps_to_cm2_per_s(fit_slope(block_lag, block_total, start, end) / 6.0))
            if collective:
                com = part.mean(axis=1, keepdims=True, dtype=np.float64)
                coll = msd_all_origins(com).sum(axis=1) * natoms
                block_sigma.append(a2_per_ps_to_cm2_per_s(fit_slope(block_lag, coll, start, end) / 6.0))
    d_err = float(np.std(block_d, ddof=1) / np.sqrt(len(block_d))) if len(block_d) > 1 else float("nan")
    result = DiffusionResult(
        lag_ps=lag_ps, msd_A2=total, msd_axes_A2=axes, d_cm2_per_s=a2_per_ps_to_cm2_per_s(d_a2_ps),
        d_err_cm2_per_s=d_err, d_axes_cm2_per_s=d_axes, fit_start_ps=start, fit_end_ps=end, n_blocks=n_blocks,
        block_d_cm2_per_s=block_d, natoms=natoms, nframes=nframes, volume_A3=trajectory.volume_A3,
        duration_ps=duration_ps, mode=trajectory.mode)
    if collective:
        # N * MSD of the centre of mass = (1/N) <|sum_i dr_i|^2>; its slope / 6 is D_sigma.
        com = trajectory.displacement_A.mean(axis=1, keepdims=True, dtype=np.float64)
        coll = msd_all_origins(com).sum(axis=1) * natoms
        result.collective_msd_A2 = coll
        result.d_sigma_cm2_per_s = a2_per_ps_to_cm2_per_s(fit_slope(lag_ps, coll, start, end) / 6.0)
        if len(block_sigma) > 1:
            result.d_sigma_err_cm2_per_s = float(np.std(block_sigma, ddof=1) / np.sqrt(len(block_sigma)))
        if result.d_sigma_cm2_per_s > 0:
            result.haven_ratio = result.d_cm2_per_s / result.d_sigma_cm2_per_s
    return result


def diffusion_from_dump(path: Path | str, timestep_ps: float, species: str | None = "Li",
                        atom_type: int | None = None, fit_start_ps: float | None = None,
                        fit_end_ps: float | None = None, n_blocks: int = 5,
                        allow_truncated: bool = False) -> DiffusionResult:
    """Read a dump and return the MSD and D of one species (see :func:`diffusion_from_trajectory`)."""
    trajectory = load_trajectory(path, timestep_ps, species=species, atom_type=atom_type,
                                 allow_truncated=allow_truncated)
    result = diffusion_from_trajectory(trajectory, fit_start_ps=fit_start_ps, fit_end_ps=fit_end_ps,
                                       n_blocks=n_blocks)
    result.extra["dropped_truncated_frame"] = trajectory.dropped_truncated
    return result
