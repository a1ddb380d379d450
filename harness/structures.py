"""Crystal structures: read P1/symmetry CIFs, build supercells, generate random hard-sphere cells,
and write LAMMPS data files (restricted triclinic form). Lengths in Å, densities in g/cm^3."""

from __future__ import annotations

import io
import math
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.elements import formula_counts, mass_amu  # noqa: F401 (formula_counts re-exported)
from harness.errors import HarnessError
from harness.extxyz import read_extxyz as read_frames
from harness.schema import ELEMENT_SYMBOLS
from harness.units import AVOGADRO_PER_MOL, CM_PER_ANGSTROM

if TYPE_CHECKING:
    from ase.io.cif import CIFBlock

_ELEMENTS = frozenset(ELEMENT_SYMBOLS)


@dataclass
class Structure:
    """Atoms in a periodic cell. ``cell`` rows are the lattice vectors a, b, c in Å; ``positions`` Cartesian Å."""

    symbols: list[str]
    cell: np.ndarray
    positions: np.ndarray
    name: str = ""
    info: dict[str, object] = field(default_factory=dict)

    @property
    def natoms(self) -> int:
        return len(self.symbols)

    @property
    def volume_a3(self) -> float:
        return float(abs(np.linalg.det(self.cell)))

    def counts(self) -> dict[str, int]:
        return dict(Counter(self.symbols))

    def density_g_cm3(self) -> float:
        mass_g = sum(mass_amu(s) for s in self.symbols) / AVOGADRO_PER_MOL
        return mass_g / (self.volume_a3 * CM_PER_ANGSTROM**3)

    def fractional(self) -> np.ndarray:
        return np.linalg.solve(self.cell.T, self.positions.T).T


# ----------------------------------------------------------------------------------------------- CIF
# ASE parses the CIF grammar (loops, quoting, values on the next line, ;-text fields, uncertainties) and the
# symmetry (operations or a space-group symbol); harness checks every value it uses before using it.

_CIF_ERRORS = (ValueError, KeyError, IndexError, RuntimeError, AssertionError, AttributeError, TypeError,
               ZeroDivisionError, StopIteration, UserWarning)   # what ASE's parser raises on malformed files
_SYMOP_TERM = r"(?:[xyz]|\d+(?:\.\d*)?(?:/\d+)?|\.\d+)"
_SYMOP_PART = re.compile(rf"[+-]?{_SYMOP_TERM}(?:[+-]{_SYMOP_TERM})*")
_SYMOP_TAGS = ("_space_group_symop_operation_xyz", "_space_group_symop.operation_xyz", "_symmetry_equiv_pos_as_xyz")


def _library_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:160]}"


def _cif_block(path: Path) -> CIFBlock:
    """The first data block of a CIF file, parsed by ASE (its warnings are errors: nothing half-read)."""
    from ase.io.cif import parse_cif
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot read structure file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise HarnessError(f"structure file {path}: not a text (CIF) file") from None
    if "\x00" in text:
        raise HarnessError(f"structure file {path}: not a text (CIF) file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            block = next(iter(parse_cif(io.StringIO(text))), None)
    except _CIF_ERRORS as exc:
        raise HarnessError(f"structure file {path}: cannot read it as CIF ({_library_error(exc)})") from None
    if block is None:
        raise HarnessError(f"structure file {path}: missing CIF field _cell_length_a (no data_ block)")
    return block


def _cif_float(tag: str, value: object, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise HarnessError(f"structure file {path}: {tag} {value!r} is not a number")
    return float(value)


def _cif_column(block: CIFBlock, tag: str) -> list[object] | None:
    value = block.get(tag)
    return None if value is None else (value if isinstance(value, list) else [value])


def _cif_symmetry(block: CIFBlock, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(rotations (n, 3, 3), translations (n, 3)) on fractional coordinates: the listed operations (each checked,
    then parsed by ASE), else those of the space-group number or Hermann-Mauguin symbol (ASE), else P1."""
    from ase.spacegroup import Spacegroup
    from ase.spacegroup.spacegroup import SpacegroupError, parse_sitesym
    for tag in _SYMOP_TAGS:
        ops = _cif_column(block, tag)
        if ops:
            for op in ops:
                parts = str(op).replace(" ", "").lower().split(",")
                if len(parts) != 3 or not all(_SYMOP_PART.fullmatch(p) for p in parts):
                    raise HarnessError(f"{where}: cannot read symmetry operation {str(op)!r} "
                                       "(write e.g. 'x, y+1/2, -z')")
            try:
                rotations, translations = parse_sitesym([str(op) for op in ops])
            except _CIF_ERRORS as exc:
                raise HarnessError(f"{where}: cannot read symmetry operations ({_library_error(exc)})") from None
            return np.asarray(rotations, dtype=float), np.asarray(translations, dtype=float)
    number = next((block[t] for t in ("_space_group_it_number", "_space_group.it_number", "_symmetry_int_tables_number")
                   if t in block), None)
    symbol = next((block[t] for t in ("_space_group_name_h-m_alt", "_symmetry_space_group_name_h-m") if t in block), None)
    if number is None and symbol is None:
        return np.eye(3)[None], np.zeros((1, 3))
    try:
        rotations, translations = Spacegroup(int(number) if number is not None else str(symbol)).get_op()
    except (*_CIF_ERRORS, SpacegroupError) as exc:
        raise HarnessError(f"{where}: unknown space group {number if number is not None else symbol!r} "
                           f"({_library_error(exc)})") from None
    return np.asarray(rotations, dtype=float), np.asarray(translations, dtype=float)


def read_cif(path: Path, name: str = "") -> Structure:
    """Read the first data block of a CIF file (P1, explicit symmetry operations, or a space-group symbol)."""
    from ase.cell import Cell
    block = _cif_block(path)
    where = f"structure file {path}"
    lengths, angles = [], []
    for tag in block.cell_tags:
        if tag not in block:
            raise HarnessError(f"{where}: missing CIF field {tag}")
        (lengths if "length" in tag else angles).append(_cif_float(tag, block[tag], path))
    a, b, c = lengths
    if min(a, b, c) <= 0:
        raise HarnessError(f"{where}: cell lengths must be positive, got a={a:g} b={b:g} c={c:g} Å")
    if not (0 < min(angles) and max(angles) < 180):
        raise HarnessError(f"{where}: cell angles {'/'.join(f'{x:g}' for x in angles)} degrees describe no cell "
                           "with a volume")
    alpha, beta, gamma = (math.radians(x) for x in angles)
    squared = 1 - math.cos(alpha)**2 - math.cos(beta)**2 - math.cos(gamma)**2 \
        + 2 * math.cos(alpha) * math.cos(beta) * math.cos(gamma)
    if squared < 1e-12:
        raise HarnessError(f"{where}: cell angles {'/'.join(f'{x:g}' for x in angles)} degrees describe no cell "
                           "with a volume")
    cell = np.array(Cell.new([a, b, c, *angles]))

    xyz = [_cif_column(block, f"_atom_site_fract_{k}") for k in "xyz"]
    labels = _cif_column(block, "_atom_site_type_symbol") or _cif_column(block, "_atom_site_label")
    if any(column is None for column in xyz) or labels is None:
        raise HarnessError(f"{where}: no atoms (_atom_site_fract_x/y/z loop) found")
    occupancies = _cif_column(block, "_atom_site_occupancy")
    site_labels = _cif_column(block, "_atom_site_label") or labels
    sites: list[tuple[str, np.ndarray]] = []
    for k, label in enumerate(labels):
        symbol = re.match(r"[A-Z][a-z]?", str(label))
        if not symbol or symbol.group(0) not in _ELEMENTS:
            raise HarnessError(f"{where}: cannot read an element from {str(label)!r}")
        if occupancies is not None:
            occupancy = _cif_float("_atom_site_occupancy", occupancies[k], path)
            if abs(occupancy - 1.0) > 1e-6:
                raise HarnessError(f"{where}: partial occupancy {occupancies[k]} on {site_labels[k]}; "
                                   "choose an ordered configuration first")
        frac = np.array([_cif_float(f"_atom_site_fract_{axis}", column[k], path)
                         for axis, column in zip("xyz", xyz)])
        sites.append((symbol.group(0), frac))
    rotations, translations = _cif_symmetry(block, where)
    symbols: list[str] = []
    fracs: list[np.ndarray] = []
    for symbol, frac in sites:
        for new in (rotations @ frac + translations) % 1.0:
            # the same site listed twice, or produced by two operations: kept once (other species: an error below)
            duplicate = any(s == symbol and np.all(np.abs(((f - new) + 0.5) % 1.0 - 0.5) < 1e-4)
                            for s, f in zip(symbols, fracs))
            if not duplicate:
                symbols.append(symbol)
                fracs.append(new)
    positions = np.array(fracs) @ cell
    structure = Structure(symbols=symbols, cell=cell, positions=positions, name=name or path.stem)
    pair = closest_pair(structure)
    if pair is not None and pair[2] < MIN_CIF_DISTANCE_A:
        i, j, distance = pair
        raise HarnessError(f"{where}: atoms {i + 1} ({symbols[i]}) and {j + 1} ({symbols[j]}) are "
                           f"{distance:.3f} Å apart (< {MIN_CIF_DISTANCE_A} Å): duplicated or misplaced sites")
    return structure


# Sites closer than this in a crystal file are an error (a site given twice, a wrong symmetry operation).
MIN_CIF_DISTANCE_A = 0.5


def closest_pair(structure: Structure) -> tuple[int, int, float] | None:
    """(i, j, distance in Å) of the closest pair of atoms under periodic boundaries (images of the 26 neighbouring
    cells; exact for cells whose heights exceed the distance found). None for a single atom."""
    n = len(structure.symbols)
    if n < 2:
        return None
    frac = structure.fractional()
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], dtype=float)
    best = (0, 0, math.inf)
    for i in range(n - 1):
        delta = frac[i + 1:] - frac[i]
        delta -= np.round(delta)
        vectors = (delta[:, None, :] + shifts[None, :, :]) @ structure.cell
        distances = np.sqrt((vectors ** 2).sum(axis=2)).min(axis=1)
        j = int(distances.argmin())
        if distances[j] < best[2]:
            best = (i, i + 1 + j, float(distances[j]))
    return best


def supercell(structure: Structure, repeats: tuple[int, int, int] | list[int]) -> Structure:
    na, nb, nc = (int(n) for n in repeats)
    if min(na, nb, nc) < 1:
        raise HarnessError(f"supercell repeats must be positive integers, got {list(repeats)}")
    shifts = np.array([[i, j, k] for i in range(na) for j in range(nb) for k in range(nc)], dtype=float)
    frac = structure.fractional()
    new_frac = (frac[None, :, :] + shifts[:, None, :]).reshape(-1, 3) / np.array([na, nb, nc])
    cell = structure.cell * np.array([[na], [nb], [nc]])
    symbols = structure.symbols * len(shifts)
    return Structure(symbols=symbols, cell=cell, positions=new_frac @ cell, name=structure.name)


# ------------------------------------------------------------------------------- random hard spheres

DEFAULT_MIN_DISTANCE_A: dict[str, float] = {
    "Li-Li": 1.8, "Li-P": 2.2, "Li-S": 1.9, "P-P": 2.6, "P-S": 1.9, "S-S": 2.6,
}


def pair_key(a: str, b: str) -> str:
    return "-".join(sorted((a, b)))


def random_hard_sphere(formula: str, natoms: int, density_g_cm3: float, min_distance_a: dict[str, float],
                       seed: int, max_attempts: int = 2000, masses: dict[str, float] | None = None) -> Structure:
    """A random cubic cell of exact composition: atoms placed one by one at uniform random positions,
    rejecting any closer than the minimum distance for its species pair (periodic boundaries).

    Like AIRSS buildcell with MINSEP; ``natoms`` must be a multiple of the formula unit. ``masses`` (amu) for the
    density: default the standard atomic weights of harness.elements.
    """
    unit = formula_counts(formula)
    per_unit = sum(unit.values())
    if natoms <= 0 or natoms % per_unit:
        raise HarnessError(f"natoms = {natoms} is not a positive multiple of the {per_unit} atoms of {formula}")
    if density_g_cm3 <= 0:
        raise HarnessError(f"density_g_cm3 must be positive, got {density_g_cm3}")
    n_units = natoms // per_unit
    symbols = [s for s, n in unit.items() for _ in range(n * n_units)]
    mass_g = sum((masses or {}).get(s) or mass_amu(s) for s in symbols) / AVOGADRO_PER_MOL
    length = (mass_g / density_g_cm3 / CM_PER_ANGSTROM**3) ** (1.0 / 3.0)
    species = sorted(unit)
    dmin = {}
    for a in species:
        for b in species:
            key = pair_key(a, b)
            if key not in min_distance_a:
                raise HarnessError(f"min_distance_A has no entry for pair {key}")
            dmin[(a, b)] = float(min_distance_a[key])
    reach = max(dmin.values())
    ncell = max(1, int(length // reach))
    cell_len = length / ncell
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(symbols))
    # Place the species with the largest exclusion first (they are hardest to fit).
    order = sorted(order, key=lambda i: -dmin[(symbols[i], symbols[i])])
    grid: dict[tuple[int, int, int], list[int]] = {}
    positions = np.zeros((len(symbols), 3))
    for placed, i in enumerate(order):
        for _ in range(max_attempts):
            trial = rng.random(3) * length
            idx = tuple(int(v // cell_len) % ncell for v in trial)
            ok = True
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for dz in (-1, 0, 1):
                        for j in grid.get(((idx[0] + dx) % ncell, (idx[1] + dy) % ncell, (idx[2] + dz) % ncell), ()):
                            d = trial - positions[j]
                            d -= length * np.round(d / length)
                            if d @ d < dmin[(symbols[i], symbols[j])] ** 2:
                                ok = False
                                break
                        if not ok:
                            break
                    if not ok:
                        break
                if not ok:
                    break
            if ok:
                positions[i] = trial
                grid.setdefault(idx, []).append(i)
                break
        else:
            raise HarnessError(f"random hard-sphere cell: could not place atom {placed + 1} of {natoms} after "
                               f"{max_attempts} tries; lower min_distance_A or density_g_cm3")
    return Structure(symbols=symbols, cell=np.eye(3) * length, positions=positions,
                     name=f"random-{formula}-{natoms}", info={"seed": seed, "density_g_cm3": density_g_cm3})


# ----------------------------------------------------------------------------------- LAMMPS data

def lammps_box(cell: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """Restricted-triclinic LAMMPS box of a cell: (lower-triangular cell with rows a,b,c, xy, xz, yz).

    Tilts are reduced into [-L/2, L/2] by lattice-vector additions, which leave the lattice unchanged.
    Use ``to_lammps_positions`` to map Cartesian positions into this box.
    """
    a, b, c = (np.asarray(v, dtype=float) for v in cell)
    lx = np.linalg.norm(a)
    xy = b @ a / lx
    ly = math.sqrt(max(b @ b - xy * xy, 0.0))
    xz = c @ a / lx
    yz = (b @ c - xy * xz) / ly
    lz = math.sqrt(max(c @ c - xz * xz - yz * yz, 0.0))
    if np.linalg.det(cell) <= 0:
        raise HarnessError("left-handed or degenerate cell: reorder the lattice vectors")
    # reduce tilts
    shift = round(yz / ly)
    yz -= shift * ly
    xz -= shift * xy
    xz -= round(xz / lx) * lx
    xy -= round(xy / lx) * lx
    new = np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])
    return new, float(xy), float(xz), float(yz)


def to_lammps_positions(structure: Structure, box: np.ndarray) -> np.ndarray:
    """Cartesian positions of ``structure`` rotated into the frame of its LAMMPS ``box`` and wrapped into it."""
    a, b, c = structure.cell
    lx = np.linalg.norm(a)
    xy = b @ a / lx
    ly = math.sqrt(max(b @ b - xy * xy, 0.0))
    xz = c @ a / lx
    yz = (b @ c - xy * xz) / ly
    lz = math.sqrt(max(c @ c - xz * xz - yz * yz, 0.0))
    unreduced = np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])
    rotation = np.linalg.solve(structure.cell, unreduced)  # cell @ rotation = unreduced
    cart = structure.positions @ rotation
    frac = np.linalg.solve(box.T, cart.T).T % 1.0
    return frac @ box


def write_lammps_data(structure: Structure, path: Path, elements: list[str], masses: dict[str, float],
                      force_triclinic: bool = False) -> None:
    """Write ``atom_style atomic`` data: type i is ``elements[i-1]``; positions mapped into the LAMMPS box."""
    missing = sorted(set(structure.symbols) - set(elements))
    if missing:
        raise HarnessError(f"structure {structure.name!r} has elements {missing} that the potential does not cover "
                           f"(potential elements: {elements})")
    box, xy, xz, yz = lammps_box(structure.cell)
    pos = to_lammps_positions(structure, box)
    triclinic = force_triclinic or any(abs(t) > 1e-10 for t in (xy, xz, yz))
    lines = [f"# {structure.name}: {structure.natoms} atoms, written by harness", "",
             f"{structure.natoms} atoms", f"{len(elements)} atom types", "",
             f"0.0 {box[0, 0]:.10f} xlo xhi", f"0.0 {box[1, 1]:.10f} ylo yhi", f"0.0 {box[2, 2]:.10f} zlo zhi"]
    if triclinic:
        lines.append(f"{xy:.10f} {xz:.10f} {yz:.10f} xy xz yz")
    lines += ["", "Masses", ""]
    lines += [f"{i + 1} {masses[e]:.6f}  # {e}" for i, e in enumerate(elements)]
    lines += ["", "Atoms  # atomic", ""]
    type_of = {e: i + 1 for i, e in enumerate(elements)}
    lines += [f"{i + 1} {type_of[s]} {x:.10f} {y:.10f} {z:.10f}" for i, (s, (x, y, z)) in enumerate(zip(structure.symbols, pos))]
    path.write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------------- extended XYZ

def read_extxyz(path: Path) -> list[Structure]:
    """Frames of an extended XYZ file (Lattice, Properties with species and pos), read by the core's reader
    (harness.extxyz, which analyze uses too); ``forces`` (eV/Å), ``energy_eV`` and the comment's other key=value
    pairs land in ``info``."""
    if not path.is_file():
        raise HarnessError(f"cannot read reference file {path}: No such file or directory")
    try:
        frames = read_frames(path)
    except HarnessError as exc:
        raise HarnessError(f"reference file {path}: {exc}") from None
    if not frames:
        raise HarnessError(f"reference file {path} has no frames")
    structures = []
    for index, frame in enumerate(frames):
        if frame.cell_A is None:
            raise HarnessError(f"reference file {path}: frame {index} lacks Lattice=\"...\" (three lattice vectors)")
        info: dict[str, object] = dict(frame.info)
        if frame.forces_eV_per_A is not None:
            info["forces"] = frame.forces_eV_per_A
        if frame.energy_eV is not None:
            info["energy_eV"] = frame.energy_eV
        structures.append(Structure(symbols=list(frame.species), cell=frame.cell_A, positions=frame.positions_A,
                                    name=f"{path.stem}#{index}", info=info))
    return structures


def write_rerun_dump(frames: list[Structure], path: Path, elements: list[str]) -> None:
    """Write frames as a LAMMPS text dump (id type x y z, restricted-triclinic boxes) for ``rerun``."""
    type_of = {e: i + 1 for i, e in enumerate(elements)}
    out: list[str] = []
    for index, frame in enumerate(frames):
        missing = sorted(set(frame.symbols) - set(elements))
        if missing:
            raise HarnessError(f"reference frame {index} has elements {missing} not covered by the potential ({elements})")
        box, xy, xz, yz = lammps_box(frame.cell)
        pos = to_lammps_positions(frame, box)
        xlo_b = min(0.0, xy, xz, xy + xz)
        xhi_b = box[0, 0] + max(0.0, xy, xz, xy + xz)
        ylo_b = min(0.0, yz)
        yhi_b = box[1, 1] + max(0.0, yz)
        out += ["ITEM: TIMESTEP", str(index), "ITEM: NUMBER OF ATOMS", str(frame.natoms),
                "ITEM: BOX BOUNDS xy xz yz pp pp pp",
                f"{xlo_b:.10f} {xhi_b:.10f} {xy:.10f}", f"{ylo_b:.10f} {yhi_b:.10f} {xz:.10f}",
                f"0.0 {box[2, 2]:.10f} {yz:.10f}", "ITEM: ATOMS id type x y z"]
        out += [f"{k + 1} {type_of[s]} {x:.10f} {y:.10f} {z:.10f}" for k, (s, (x, y, z)) in enumerate(zip(frame.symbols, pos))]
    path.write_text("\n".join(out) + "\n")
