"""Task 2: force and energy errors of a potential against a reference extxyz file.

Forces in eV/Å, energies in eV, energy errors in meV/atom. Force RMSE and MAE are taken over all
Cartesian components (overall, and per frame along the trajectory). The energy error per atom is
computed after fitting one constant offset per element (least squares over all frames:
E_ref - E_pred ≈ sum_e n_e c_e), the paper's zero-shot correction; with a single composition the
offsets collapse to one constant per atom, which least squares handles (minimum-norm solution).

The reference extxyz is read by the core's reader, harness.extxyz (render validates the same file with it);
its frames (XYZFrame) and key names are re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis.dump import DumpReader
from analysis.errors import AnalysisError
from harness import extxyz
from harness.errors import HarnessError
from harness.extxyz import ENERGY_KEYS, FORCE_PROPERTIES, PHASE_KEYS, TEMPERATURE_KEYS, XYZFrame  # noqa: F401 (re-exported)


def read_extxyz(path: Path | str) -> list[XYZFrame]:
    """All frames of an extxyz file: the core's reader (harness.extxyz), its errors as AnalysisError."""
    try:
        return extxyz.read_extxyz(path)
    except HarnessError as error:
        raise AnalysisError(str(error)) from None


def read_force_dump(path: Path | str) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Forces (natoms, 3) in eV/Å of every frame of a ``dump custom id element fx fy fz`` file, sorted by
    id, with the element column when present. Frames sharing a timestep are all kept."""
    reader = DumpReader(path, columns=None, deduplicate=False)
    out = []
    for frame in reader:
        forces = np.column_stack([frame.column("fx"), frame.column("fy"), frame.column("fz")])
        out.append((forces, frame.columns.get("element")))
    return out


def read_energies(path: Path | str) -> np.ndarray:
    """Potential energies (eV) from ``energies.dat`` (columns ``frame pe_eV``; '#' comments), in frame order."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = text.split()
            try:
                rows.append((float(parts[0]), float(parts[1])))
            except (ValueError, IndexError):
                raise AnalysisError(f"{path}: line {number} is not 'frame pe_eV': {line.strip()!r}") from None
    rows.sort(key=lambda r: r[0])
    return np.array([r[1] for r in rows])


@dataclass
class ForceErrors:
    """Overall and per-frame errors. Forces in eV/Å, energies in meV/atom."""

    force_rmse_eV_per_A: float
    force_mae_eV_per_A: float
    frame_force_rmse_eV_per_A: np.ndarray
    frame_force_mae_eV_per_A: np.ndarray
    frame_temperature_K: list[float | None]
    frame_phase: list[str | None]
    energy_rmse_meV_per_atom: float = float("nan")
    energy_mae_meV_per_atom: float = float("nan")
    energy_rmse_raw_meV_per_atom: float = float("nan")
    frame_energy_error_meV_per_atom: np.ndarray | None = None
    element_offsets_eV: dict[str, float] = field(default_factory=dict)
    nframes: int = 0
    natoms_total: int = 0


def fit_element_offsets(reference_eV: np.ndarray, predicted_eV: np.ndarray,
                        counts: np.ndarray) -> np.ndarray:
    """Least-squares per-element constants c (eV) with reference - predicted ≈ counts @ c."""
    solution, *_ = np.linalg.lstsq(counts.astype(float), reference_eV - predicted_eV, rcond=None)
    return solution


def force_errors(reference: list[XYZFrame], predicted_forces: list[np.ndarray],
                 predicted_energies_eV: np.ndarray | None = None,
                 predicted_elements: list[np.ndarray | None] | None = None) -> ForceErrors:
    """Errors of predicted forces (and energies) against reference frames (same atom order: dump id k+1
    is extxyz atom k)."""
    if len(reference) != len(predicted_forces):
        raise AnalysisError(f"reference has {len(reference)} frames but the force dump has {len(predicted_forces)}")
    frame_rmse, frame_mae = [], []
    squares = 0.0
    absolutes = 0.0
    ncomponents = 0
    for k, (ref, pred) in enumerate(zip(reference, predicted_forces)):
        if ref.forces_eV_per_A is None:
            raise AnalysisError(f"reference frame {k} has no forces (Properties needs forces:R:3)")
        if ref.forces_eV_per_A.shape != pred.shape:
            raise AnalysisError(f"frame {k}: reference has {len(ref.species)} atoms, the force dump {len(pred)}")
        if predicted_elements is not None and predicted_elements[k] is not None:
            if list(predicted_elements[k]) != list(ref.species):
                raise AnalysisError(f"frame {k}: atom elements of the force dump differ from the reference")
        diff = pred - ref.forces_eV_per_A
        frame_rmse.append(math.sqrt(float(np.mean(diff**2))))
        frame_mae.append(float(np.mean(np.abs(diff))))
        squares += float(np.sum(diff**2))
        absolutes += float(np.sum(np.abs(diff)))
        ncomponents += diff.size
    result = ForceErrors(
        force_rmse_eV_per_A=math.sqrt(squares / ncomponents), force_mae_eV_per_A=absolutes / ncomponents,
        frame_force_rmse_eV_per_A=np.array(frame_rmse), frame_force_mae_eV_per_A=np.array(frame_mae),
        frame_temperature_K=[f.temperature_K for f in reference], frame_phase=[f.phase for f in reference],
        nframes=len(reference), natoms_total=sum(len(f.species) for f in reference))
    if predicted_energies_eV is not None and all(f.energy_eV is not None for f in reference):
        if len(predicted_energies_eV) != len(reference):
            raise AnalysisError(f"reference has {len(reference)} frames but energies.dat has "
                                f"{len(predicted_energies_eV)} energies")
        elements = sorted({s for f in reference for s in f.species})
        counts = np.array([[f.species.count(e) for e in elements] for f in reference])
        natoms = counts.sum(axis=1).astype(float)
        ref_e = np.array([f.energy_eV for f in reference], dtype=float)
        offsets = fit_element_offsets(ref_e, predicted_energies_eV, counts)
        corrected = predicted_energies_eV + counts @ offsets
        error = 1000.0 * (corrected - ref_e) / natoms
        raw = 1000.0 * (predicted_energies_eV - ref_e) / natoms
        result.frame_energy_error_meV_per_atom = error
        result.energy_rmse_meV_per_atom = math.sqrt(float(np.mean(error**2)))
        result.energy_mae_meV_per_atom = float(np.mean(np.abs(error)))
        result.energy_rmse_raw_meV_per_atom = math.sqrt(float(np.mean(raw**2)))
        result.element_offsets_eV = dict(zip(elements, map(float, offsets)))
    return result


def force_errors_from_files(extxyz: Path | str, forces_dump: Path | str,
                            energies: Path | str | None = None) -> ForceErrors:
    reference = read_extxyz(extxyz)
    predicted = read_force_dump(forces_dump)
    energies_eV = read_energies(energies) if energies is not None and Path(energies).is_file() else None
    return force_errors(reference, [p[0] for p in predicted], energies_eV, [p[1] for p in predicted])
