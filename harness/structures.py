"""Crystal structures: read P1/symmetry CIFs, build supercells, generate random hard-sphere cells,
and write LAMMPS data files (restricted triclinic form). Lengths in Å, densities in g/cm^3."""

from __future__ import annotations

import math
import re
import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.elements import mass_amu
from harness.errors import HarnessError
from harness.units import AVOGADRO_PER_MOL, CM_PER_ANGSTROM


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

def _cif_number(text: str) -> float:
    """CIF numbers may carry an uncertainty in parentheses: 1.234(5)."""
    return float(re.sub(r"\(\d+\)$", "", text))


def _parse_symop(op: str) -> tuple[np.ndarray, np.ndarray]:
    """'x, y+1/2, -z' -> (rotation 3x3, translation 3) acting on fractional coordinates."""
    rot = np.zeros((3, 3))
    trans = np.zeros(3)
    parts = op.replace(" ", "").lower().split(",")
    if len(parts) != 3:
        raise ValueError(op)
    for row, expr in enumerate(parts):
        for sign, term in re.findall(r"([+-]?)([^+-]+)", expr):
            value = -1.0 if sign == "-" else 1.0
            if term in "xyz":
                rot[row, "xyz".index(term)] += value
            elif "/" in term:
                num, den = term.split("/")
                trans[row] += value * float(num) / float(den)
            else:
                trans[row] += value * float(term)
    return rot, trans


def read_cif(path: Path, name: str = "") -> Structure:
    """Read the first data block of a CIF file (P1 or with explicit symmetry operations)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise HarnessError(f"cannot read structure file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise HarnessError(f"structure file {path}: not a text (CIF) file") from None

    def number(field: str, text: str) -> float:
        try:
            return _cif_number(text)
        except ValueError:
            raise HarnessError(f"structure file {path}: {field} {text!r} is not a number") from None

    tags: dict[str, str] = {}
    loops: list[tuple[list[str], list[list[str]]]] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("loop_"):
            headers: list[str] = []
            rows: list[list[str]] = []
            i += 1
            while i < len(lines) and lines[i].strip().startswith("_"):
                headers.append(lines[i].strip().split()[0].lower())
                i += 1
            while i < len(lines):
                row = lines[i].strip()
                if not row or row.startswith(("_", "loop_", "data_", "#")):
                    break
                rows.append(shlex.split(row))
                i += 1
            loops.append((headers, rows))
            continue
        if line.startswith("_"):
            key, _, value = line.partition(" ")
            tags[key.lower()] = value.strip().strip("'\"")
        i += 1
    try:
        a, b, c = (number(f"_cell_length_{k}", tags[f"_cell_length_{k}"]) for k in "abc")
        angles = [number(f"_cell_angle_{k}", tags[f"_cell_angle_{k}"]) for k in ("alpha", "beta", "gamma")]
    except KeyError as exc:
        raise HarnessError(f"structure file {path}: missing CIF field {exc.args[0]}") from None
    if min(a, b, c) <= 0:
        raise HarnessError(f"structure file {path}: cell lengths must be positive, got a={a:g} b={b:g} c={c:g} Å")
    alpha, beta, gamma = (math.radians(x) for x in angles)
    cell = cell_from_parameters(a, b, c, alpha, beta, gamma)
    if not (0 < min(angles) and max(angles) < 180) or abs(np.linalg.det(cell)) < 1e-6 * a * b * c:
        raise HarnessError(f"structure file {path}: cell angles {'/'.join(f'{x:g}' for x in angles)} degrees "
                           "describe no cell with a volume")

    ops = [(np.eye(3), np.zeros(3))]
    atoms: list[tuple[str, np.ndarray]] = []
    for headers, rows in loops:
        symop_key = next((h for h in headers if h in ("_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz")), None)
        if symop_key:
            col = headers.index(symop_key)
            try:
                ops = [_parse_symop(r[col]) for r in rows]
            except (ValueError, ZeroDivisionError, IndexError) as exc:
                raise HarnessError(f"structure file {path}: cannot read symmetry operation {exc.args[0] if exc.args else ''!r}"
                                   " (write e.g. 'x, y+1/2, -z')") from None
        if "_atom_site_fract_x" in headers:
            sym_col = headers.index("_atom_site_type_symbol") if "_atom_site_type_symbol" in headers else headers.index("_atom_site_label")
            occ_col = headers.index("_atom_site_occupancy") if "_atom_site_occupancy" in headers else None
            xyz_cols = [headers.index(f"_atom_site_fract_{k}") for k in "xyz"]
            for r in rows:
                symbol = re.match(r"[A-Z][a-z]?", r[sym_col])
                if not symbol:
                    raise HarnessError(f"structure file {path}: cannot read an element from {r[sym_col]!r}")
                if len(r) != len(headers):
                    raise HarnessError(f"structure file {path}: atom site line {' '.join(r)!r} has {len(r)} values "
                                       f"for {len(headers)} columns")
                if occ_col is not None and abs(number("_atom_site_occupancy", r[occ_col]) - 1.0) > 1e-6:
                    raise HarnessError(f"structure file {path}: partial occupancy {r[occ_col]} on {r[sym_col]}; "
                                       "choose an ordered configuration first")
                atoms.append((symbol.group(0), np.array([number(headers[c], r[c]) for c in xyz_cols])))
    if not atoms:
        raise HarnessError(f"structure file {path}: no atoms (_atom_site_fract_x/y/z loop) found")
    symbols: list[str] = []
    fracs: list[np.ndarray] = []
    for symbol, frac in atoms:
        for rot, trans in ops:
            new = (rot @ frac + trans) % 1.0
            duplicate = any(
                s == symbol and np.all(np.abs(((f - new) + 0.5) % 1.0 - 0.5) < 1e-4) for s, f in zip(symbols, fracs)
            )
            if not duplicate:
                symbols.append(symbol)
                fracs.append(new)
    positions = np.array(fracs) @ cell
    structure = Structure(symbols=symbols, cell=cell, positions=positions, name=name or path.stem)
    pair = closest_pair(structure)
    if pair is not None and pair[2] < MIN_CIF_DISTANCE_A:
        i, j, distance = pair
        raise HarnessError(f"structure file {path}: atoms {i + 1} ({symbols[i]}) and {j + 1} ({symbols[j]}) are "
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


def cell_from_parameters(a: float, b: float, c: float, alpha: float, beta: float, gamma: float) -> np.ndarray:
    """Lattice vectors (rows) from lengths (Å) and angles (radians), a along x, b in the xy plane."""
    cx = c * math.cos(beta)
    cy = c * (math.cos(alpha) - math.cos(beta) * math.cos(gamma)) / math.sin(gamma)
    cz = math.sqrt(max(c * c - cx * cx - cy * cy, 0.0))
    return np.array([[a, 0.0, 0.0], [b * math.cos(gamma), b * math.sin(gamma), 0.0], [cx, cy, cz]])


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


def formula_counts(formula: str) -> dict[str, int]:
    """'Li7P3S11' -> {'Li': 7, 'P': 3, 'S': 11}."""
    tokens = re.findall(r"([A-Z][a-z]?)(\d*)", formula)
    if not tokens or "".join(s + n for s, n in tokens) != formula:
        raise HarnessError(f"cannot read chemical formula {formula!r} (write e.g. 'Li7P3S11')")
    counts: dict[str, int] = {}
    for symbol, number in tokens:
        counts[symbol] = counts.get(symbol, 0) + (int(number) if number else 1)
    return counts


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
    """Frames of an extended XYZ file (Lattice, Properties with species and pos). The parsing is the analysis
    package's reader; per-atom arrays such as ``forces`` and the comment's key=value pairs land in ``info``."""
    from analysis.errors import AnalysisError
    from analysis.forces import read_extxyz as read_frames
    if not path.is_file():
        raise HarnessError(f"cannot read reference file {path}: No such file or directory")
    try:
        frames = read_frames(path)
    except AnalysisError as exc:
        raise HarnessError(f"reference file {path}: {exc}") from None
    if not frames:
        raise HarnessError(f"reference file {path} has no frames")
    structures = []
    for index, frame in enumerate(frames):
        lattice = frame.info.get("Lattice")
        if lattice is None:
            raise HarnessError(f"reference file {path}: frame {index} lacks Lattice=\"...\"")
        cell = np.array([float(v) for v in lattice.split()]).reshape(3, 3)
        info: dict[str, object] = {k: v for k, v in frame.info.items() if k not in ("Lattice", "Properties")}
        if frame.forces_eV_per_A is not None:
            info["forces"] = frame.forces_eV_per_A
        if frame.energy_eV is not None:
            info["energy_eV"] = frame.energy_eV
        structures.append(Structure(symbols=list(frame.species), cell=cell, positions=frame.positions_A,
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
