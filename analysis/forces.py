"""Task 2: force and energy errors of a potential against a reference extxyz file.

Forces in eV/Å, energies in eV, energy errors in meV/atom. Force RMSE and MAE are taken over all
Cartesian components (overall, and per frame along the trajectory). The energy error per atom is
computed after fitting one constant offset per element (least squares over all frames:
E_ref - E_pred ≈ sum_e n_e c_e), the paper's zero-shot correction; with a single composition the
offsets collapse to one constant per atom, which least squares handles (minimum-norm solution).

Extended XYZ files are read by ASE (``ase.io.read(..., format="extxyz")``): per frame a count line, a comment
line with ``key=value`` pairs (``Lattice="..."``, ``Properties=species:S:1:pos:R:3:forces:R:3``, an energy such
as ``energy=-1.0``; optional per-frame labels ``temperature``/``T``/``temperature_K`` and ``phase``/``config_type``),
then one line per atom. What ASE reads is then checked: finite positions, forces and energies.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis.dump import DumpReader
from analysis.errors import AnalysisError

ENERGY_KEYS = ("energy", "REF_energy", "dft_energy", "DFT_energy", "free_energy")
FORCE_PROPERTIES = ("forces", "REF_forces", "dft_forces", "DFT_forces", "force")
TEMPERATURE_KEYS = ("temperature_K", "temperature", "T")
PHASE_KEYS = ("phase", "config_type", "label")

# what ASE's extxyz reader raises on malformed files (besides its XYZError)
_XYZ_ERRORS = (ValueError, KeyError, IndexError, RuntimeError, AssertionError, AttributeError, TypeError,
               StopIteration, UserWarning)


@dataclass
class XYZFrame:
    """One extxyz frame: species (natoms,), positions and forces (natoms, 3), energy in eV (or None), the cell
    (rows a, b, c in Å; None without ``Lattice=``) and the other ``key=value`` pairs of the comment line."""

    species: list[str]
    positions_A: np.ndarray
    forces_eV_per_A: np.ndarray | None
    energy_eV: float | None
    info: dict[str, object] = field(default_factory=dict)
    cell_A: np.ndarray | None = None

    @property
    def temperature_K(self) -> float | None:
        for key in TEMPERATURE_KEYS:
            if key in self.info:
                try:
                    return float(self.info[key])   # type: ignore[arg-type]
                except (TypeError, ValueError):
                    return None
        return None

    @property
    def phase(self) -> str | None:
        for key in PHASE_KEYS:
            if key in self.info:
                return str(self.info[key])
        return None


def _finite(values: object, what: str, path: Path, index: int) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise AnalysisError(f"{path}: frame {index} has a non-numeric value in {what}") from None
    if not np.all(np.isfinite(array)):
        raise AnalysisError(f"{path}: frame {index} has non-finite values (nan or inf) in {what}")
    return array


def read_extxyz(path: Path | str) -> list[XYZFrame]:
    """All frames of an extxyz file (see module docstring)."""
    import ase.io
    from ase.io.extxyz import XYZError   # an OSError subclass: a malformed file, not an unreadable one
    path = Path(path)
    if not path.is_file():
        raise AnalysisError(f"extxyz file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            images = ase.io.read(path, index=":", format="extxyz")
    except UnicodeDecodeError:
        raise AnalysisError(f"{path}: not a text (extended XYZ) file") from None
    except (XYZError, *_XYZ_ERRORS) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise AnalysisError(f"{path}: cannot read it as extended XYZ ({type(exc).__name__}: {text[:160]})") from None
    except OSError as exc:
        raise AnalysisError(f"cannot read {path}: {exc.strerror}") from None
    frames: list[XYZFrame] = []
    for index, atoms in enumerate(images):
        results = dict(atoms.calc.results) if atoms.calc is not None else {}
        forces = next((results[k] if k in results else atoms.arrays[k] for k in FORCE_PROPERTIES
                       if k in results or k in atoms.arrays), None)
        energy = next((results[k] if k in results else atoms.info[k] for k in ENERGY_KEYS
                       if k in results or k in atoms.info), None)
        if energy is not None and (isinstance(energy, (bool, str)) or not np.isscalar(energy)):
            raise AnalysisError(f"{path}: frame {index} has a non-numeric energy {energy!r}")
        frames.append(XYZFrame(
            species=list(atoms.get_chemical_symbols()),
            positions_A=_finite(atoms.positions, "positions", path, index),
            forces_eV_per_A=None if forces is None else _finite(forces, "forces", path, index).reshape(-1, 3),
            energy_eV=None if energy is None else float(_finite(energy, "the energy", path, index)),
            info={k: v for k, v in atoms.info.items() if k not in ENERGY_KEYS},
            cell_A=np.array(atoms.cell.array, dtype=float) if atoms.cell.rank == 3 else None))
    if not frames:
        raise AnalysisError(f"extxyz file has no frames: {path}")
    return frames


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
