"""Extended XYZ frames, the format of Task 2's reference (positions, forces and energies of a trajectory): read by
``harness render`` to validate the campaign's [forces].reference and write the rerun dump, and by ``harness analyze``
to compare forces. One reader, in the core, so neither side imports the other (analysis.forces re-exports it).

Extended XYZ files are read by ASE (``ase.io.read(..., format="extxyz")``): per frame a count line, a comment
line with ``key=value`` pairs (``Lattice="..."``, ``Properties=species:S:1:pos:R:3:forces:R:3``, an energy such
as ``energy=-1.0``; optional per-frame labels ``temperature``/``T``/``temperature_K`` and ``phase``/``config_type``),
then one line per atom. What ASE reads is then checked: finite positions, forces and energies. Positions and cells
in Å, forces in eV/Å, energies in eV. A malformed file is one HarnessError line naming it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.errors import HarnessError

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
        raise HarnessError(f"{path}: frame {index} has a non-numeric value in {what}") from None
    if not np.all(np.isfinite(array)):
        raise HarnessError(f"{path}: frame {index} has non-finite values (nan or inf) in {what}")
    return array


def read_extxyz(path: Path | str) -> list[XYZFrame]:
    """All frames of an extxyz file (see module docstring)."""
    import ase.io
    from ase.io.extxyz import XYZError   # an OSError subclass: a malformed file, not an unreadable one
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"extxyz file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            images = ase.io.read(path, index=":", format="extxyz")
    except UnicodeDecodeError:
        raise HarnessError(f"{path}: not a text (extended XYZ) file") from None
    except (XYZError, *_XYZ_ERRORS) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise HarnessError(f"{path}: cannot read it as extended XYZ ({type(exc).__name__}: {text[:160]})") from None
    except OSError as exc:
        raise HarnessError(f"cannot read {path}: {exc.strerror}") from None
    frames: list[XYZFrame] = []
    for index, atoms in enumerate(images):
        results = dict(atoms.calc.results) if atoms.calc is not None else {}
        forces = next((results[k] if k in results else atoms.arrays[k] for k in FORCE_PROPERTIES
                       if k in results or k in atoms.arrays), None)
        energy = next((results[k] if k in results else atoms.info[k] for k in ENERGY_KEYS
                       if k in results or k in atoms.info), None)
        if energy is not None and (isinstance(energy, (bool, str)) or not np.isscalar(energy)):
            raise HarnessError(f"{path}: frame {index} has a non-numeric energy {energy!r}")
        frames.append(XYZFrame(
            species=list(atoms.get_chemical_symbols()),
            positions_A=_finite(atoms.positions, "positions", path, index),
            forces_eV_per_A=None if forces is None else _finite(forces, "forces", path, index).reshape(-1, 3),
            energy_eV=None if energy is None else float(_finite(energy, "the energy", path, index)),
            info={k: v for k, v in atoms.info.items() if k not in ENERGY_KEYS},
            cell_A=np.array(atoms.cell.array, dtype=float) if atoms.cell.rank == 3 else None))
    if not frames:
        raise HarnessError(f"extxyz file has no frames: {path}")
    return frames
