"""Ordered representatives of partially occupied crystals (``harness structures order``).

The paper benchmarks two intrinsically disordered crystals (β-Li3PS4, high-temperature Li7PS6) through "a single
representative configuration" each. This module makes such a configuration from a partially occupied CIF:

1. read the CIF with ASE's parser (cell, atom sites, occupancies, symmetry operations) and expand every site by
   the symmetry operations; sites of different rows at the same position (mixed occupancy) become one site;
2. read each occupancy as an exact fraction p/q (q <= MAX_DENOMINATOR); a decimal such as 0.333 that is only
   close to p/q is read as p/q and the change is reported, never hidden;
3. group equivalent sites into sublattices (same CIF rows, same occupancies) and find the smallest supercell
   (fewest cells, then the most compact shape) in which every sublattice holds a whole number of atoms of each
   species; or check a given supercell;
4. draw ``samples`` orderings: on each sublattice a uniformly random choice of which sites hold which species
   (numpy ``default_rng(seed)``, so the same seed gives the same orderings);
5. with a potential: relax every ordering with it (templates/relax.lammps.j2, positions and cell, LAMMPS) and keep
   the lowest in energy; without one: keep the ordering whose shortest interatomic distance is largest (a
   harness choice: it avoids filling two split positions next to each other);
6. write the chosen ordering, on the crystallographic positions (not relaxed), as a P1 CIF (ASE writer) whose
   comment records the method, seed, supercell, counts and energies.

Units: Å, eV.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from harness.structures import Structure, closest_pair, write_lammps_data

MAX_DENOMINATOR = 24            # occupancies are read as p/q with q up to this
OCCUPANCY_TOLERANCE = 1.5e-3    # |decimal - p/q| allowed (CIFs print 1/3 as 0.333 or 0.3333)
SAME_SITE_A = 0.05              # rows closer than this (Å) are one site with mixed occupancy
DEFAULT_MAX_CELLS = 64


@dataclass
class Site:
    """One position of the cell, shared by the species of ``occupancy`` (exact fractions, sum <= 1)."""

    fractional: np.ndarray
    occupancy: dict[str, Fraction]
    labels: tuple[str, ...]


@dataclass
class Sublattice:
    """Equivalent sites (same CIF rows, same occupancies) of the primitive cell."""

    labels: tuple[str, ...]
    occupancy: dict[str, Fraction]
    fractional: list[np.ndarray] = field(default_factory=list)

    @property
    def ordered(self) -> bool:
        return len(self.occupancy) == 1 and next(iter(self.occupancy.values())) == 1

    def counts(self, n_cells: int) -> dict[str, Fraction]:
        """Atoms of each species on this sublattice in ``n_cells`` cells (may be fractional)."""
        return {s: occ * len(self.fractional) * n_cells for s, occ in sorted(self.occupancy.items())}


@dataclass
class DisorderedCrystal:
    source: Path
    cell: np.ndarray                 # rows a, b, c in Å
    sublattices: list[Sublattice]
    notes: list[str]                 # every occupancy read differently from its decimal


@dataclass
class Ordering:
    index: int                       # 1-based sample number
    structure: Structure
    min_distance_A: float
    energy_eV: float | None = None
    message: str | None = None       # why it has no energy (relaxation failed)


@dataclass
class OrderingResult:
    crystal: DisorderedCrystal
    repeats: tuple[int, int, int]
    orderings: list[Ordering]
    chosen: Ordering
    method: str


def exact_occupancy(value: float, where: str) -> tuple[Fraction, str | None]:
    """The fraction p/q (smallest q <= MAX_DENOMINATOR) within OCCUPANCY_TOLERANCE of ``value``, and a note when it
    is not exactly the decimal given."""
    if not 0.0 < value <= 1.0 + OCCUPANCY_TOLERANCE:
        raise HarnessError(f"{where}: occupancy {value:g} is not in (0, 1]")
    for q in range(1, MAX_DENOMINATOR + 1):
        p = round(value * q)
        if p and abs(p / q - value) <= OCCUPANCY_TOLERANCE:
            exact = Fraction(p, q)
            note = None if exact == Fraction(str(value)) else f"{where}: occupancy {value:g} read as {p}/{q}"
            return exact, note
    raise HarnessError(f"{where}: occupancy {value:g} is no fraction p/q with q <= {MAX_DENOMINATOR} "
                       f"(within {OCCUPANCY_TOLERANCE:g}); give it as such a fraction")


def read_disordered_cif(path: Path) -> DisorderedCrystal:
    """Cell, sites and exact occupancies of the first data block of a CIF (with or without symmetry operations)."""
    from ase.io.cif import parse_cif
    from ase.spacegroup.spacegroup import parse_sitesym

    try:
        block = next(iter(parse_cif(str(path))))
        cell = np.array(block.get_cell())
        xyz = [block.get(f"_atom_site_fract_{k}") for k in "xyz"]
        labels = block.get("_atom_site_label")
        symbols = block.get("_atom_site_type_symbol") or labels
        occupancies = block.get("_atom_site_occupancy") or [1.0] * len(symbols or [])
        symops = block.get("_space_group_symop_operation_xyz") or block.get("_symmetry_equiv_pos_as_xyz") or ["x,y,z"]
    except StopIteration:
        raise HarnessError(f"structure file {path}: no CIF data block") from None
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise HarnessError(f"structure file {path}: cannot read it as CIF ({exc})") from None
    if any(v is None for v in xyz) or not symbols:
        raise HarnessError(f"structure file {path}: no atom sites (_atom_site_fract_x/y/z loop)")
    labels = labels or [f"{s}{i + 1}" for i, s in enumerate(symbols)]
    try:
        rotations, translations = parse_sitesym([str(op) for op in symops])
    except Exception as exc:   # ASE raises several types for a bad operation
        raise HarnessError(f"structure file {path}: cannot read the symmetry operations ({exc})") from None

    notes: list[str] = []
    sites: list[Site] = []
    for label, symbol, x, y, z, occ in zip(labels, symbols, *xyz, occupancies):
        match = re.match(r"[A-Z][a-z]?", str(symbol))
        if not match:
            raise HarnessError(f"structure file {path}: cannot read an element from {symbol!r}")
        element = match.group(0)
        fraction, note = exact_occupancy(float(occ), f"{path.name} site {label}")
        if note:
            notes.append(note)
        images: list[np.ndarray] = []
        for rotation, translation in zip(rotations, translations):
            image = (rotation @ np.array([x, y, z], float) + translation) % 1.0
            if not any(_distance_A(image, other, cell) < SAME_SITE_A for other in images):
                images.append(image)
        for image in images:
            shared = next((s for s in sites if _distance_A(s.fractional, image, cell) < SAME_SITE_A), None)
            if shared is None:
                sites.append(Site(image, {element: fraction}, (str(label),)))
            else:
                shared.occupancy[element] = shared.occupancy.get(element, Fraction(0)) + fraction
                if str(label) not in shared.labels:
                    shared.labels = (*shared.labels, str(label))
    for site in sites:
        total = sum(site.occupancy.values())
        if total > 1:
            raise HarnessError(f"structure file {path}: site {'+'.join(site.labels)} is occupied {float(total):g} "
                               "times (occupancies at one position must add up to at most 1)")
    groups: dict[tuple, Sublattice] = {}
    for site in sites:
        key = (site.labels, tuple(sorted(site.occupancy.items())))
        if key not in groups:
            groups[key] = Sublattice(site.labels, dict(sorted(site.occupancy.items())))
        groups[key].fractional.append(site.fractional)
    return DisorderedCrystal(source=path, cell=cell, sublattices=list(groups.values()), notes=notes)


def _distance_A(a: np.ndarray, b: np.ndarray, cell: np.ndarray) -> float:
    delta = a - b
    delta -= np.rint(delta)
    return float(np.linalg.norm(delta @ cell))


def whole_counts(crystal: DisorderedCrystal, n_cells: int) -> bool:
    return all(c.denominator == 1 for sub in crystal.sublattices for c in sub.counts(n_cells).values())


def smallest_supercell(crystal: DisorderedCrystal, max_cells: int = DEFAULT_MAX_CELLS) -> tuple[int, int, int]:
    """Fewest cells in which every count is whole; among the shapes with that many cells the most compact (the
    smallest ratio of longest to shortest supercell vector), then the first in (a, b, c) order."""
    for n_cells in range(1, max_cells + 1):
        if not whole_counts(crystal, n_cells):
            continue
        shapes = [(a, b, n_cells // (a * b)) for a in range(1, n_cells + 1) for b in range(1, n_cells + 1)
                  if n_cells % (a * b) == 0]
        lengths = np.linalg.norm(crystal.cell, axis=1)
        return min(shapes, key=lambda s: (max(np.array(s) * lengths) / min(np.array(s) * lengths), s))
    needs = []
    for sub in crystal.sublattices:
        denominators = [c.denominator for c in sub.counts(1).values()]
        needs.append(f"{'+'.join(sub.labels)} needs a multiple of {math.lcm(*denominators)} cells")
    raise HarnessError(f"{crystal.source}: no supercell of up to {max_cells} cells makes the atom counts whole "
                       f"({'; '.join(needs)}); raise --max-cells or give --supercell")


def draw_orderings(crystal: DisorderedCrystal, repeats: tuple[int, int, int], samples: int,
                   seed: int) -> list[Ordering]:
    """``samples`` orderings in the supercell ``repeats``, each sublattice filled uniformly at random."""
    n_cells = repeats[0] * repeats[1] * repeats[2]
    if not whole_counts(crystal, n_cells):
        bad = [f"{'+'.join(s.labels)} ({', '.join(f'{e} {float(c):g}' for e, c in s.counts(n_cells).items())})"
               for s in crystal.sublattices if any(c.denominator != 1 for c in s.counts(n_cells).values())]
        raise HarnessError(f"{crystal.source}: supercell {'x'.join(map(str, repeats))} leaves fractional atom "
                           f"counts on {'; '.join(bad)}")
    shifts = np.array(list(itertools.product(*(range(n) for n in repeats))), float)
    super_cell = crystal.cell * np.array(repeats, float)[:, None]
    rng = np.random.default_rng(seed)
    orderings = []
    for index in range(1, samples + 1):
        symbols: list[str] = []
        fractional: list[np.ndarray] = []
        for sub in crystal.sublattices:
            positions = [(f + shift) / np.array(repeats, float) for shift in shifts for f in sub.fractional]
            order = np.arange(len(positions)) if sub.ordered else rng.permutation(len(positions))
            start = 0
            for species, count in sub.counts(n_cells).items():
                for k in order[start:start + int(count)]:
                    symbols.append(species)
                    fractional.append(positions[k])
                start += int(count)
        structure = Structure(symbols=symbols, cell=super_cell.copy(), positions=np.array(fractional) @ super_cell,
                              name=f"{crystal.source.stem}-ordering{index}")
        pair = closest_pair(structure)
        orderings.append(Ordering(index, structure, pair[2] if pair else math.inf))
    return orderings


def relax_energy_eV(structure: Structure, potential_name: str, lmp: str | None = None,
                    search: list[Path] | None = None, timeout_s: float = 600.0) -> tuple[float | None, str | None]:
    """Energy (eV) of ``structure`` relaxed (positions and cell) with the potential through LAMMPS and the shipped
    relax template; (None, reason) when LAMMPS fails."""
    from harness.tasks.formation import RELAX_SETTINGS, FormationTask
    from harness.lammps_env import child_environment, find_lammps
    from harness.potentials import load_potential, verify_files
    from harness.render import template_environment

    potential = load_potential(potential_name, search)
    problems = verify_files(potential)
    if problems:
        raise HarnessError(problems[0])
    build = find_lammps(lmp)
    counts = structure.counts()
    formula = "".join(f"{s}{n}" for s, n in sorted(counts.items()))
    minimizer = {name: FormationTask.model_fields[name].default for name in RELAX_SETTINGS}   # [formation]'s defaults
    text = template_environment().get_template("relax.lammps.j2").render(
        run={"structure": structure.name, "natoms": structure.natoms},
        params={"formula": formula, "relax_box": True, **minimizer},
        potential=potential, potential_lines=potential.pair_lines({k: str(f.path) for k, f in potential.files.items()}))
    with tempfile.TemporaryDirectory(prefix="harness-order-") as tmp:
        folder = Path(tmp)
        (folder / "in.lammps").write_text(text)
        write_lammps_data(structure, folder / "data.lmp", potential.elements, potential.masses, force_triclinic=True)
        try:
            subprocess.run([build.executable, "-in", "in.lammps", "-log", "log.lammps", "-screen", "none"], cwd=folder,
                           env=child_environment(build.library_dirs), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return None, f"relaxation exceeded {timeout_s:g} s"
        result = folder / "result.json"
        if not result.is_file():
            log = (folder / "log.lammps").read_text(errors="replace") if (folder / "log.lammps").is_file() else ""
            errors = [line.strip() for line in log.splitlines() if line.startswith("ERROR")]
            return None, errors[-1] if errors else "LAMMPS wrote no result.json"
        return float(json.loads(result.read_text())["energy_eV"]), None


def order_structure(path: Path, samples: int = 10, seed: int = 0, repeats: tuple[int, int, int] | None = None,
                    potential: str | None = None, max_cells: int = DEFAULT_MAX_CELLS, lmp: str | None = None,
                    search: list[Path] | None = None) -> OrderingResult:
    """Steps 1-5 of the module docstring; nothing is written."""
    if samples < 1:
        raise HarnessError(f"--samples must be a positive integer, got {samples}")
    if repeats is not None and (len(repeats) != 3 or min(repeats) < 1):
        raise HarnessError(f"--supercell must be three positive integers, got {repeats}")
    crystal = read_disordered_cif(path)
    repeats = tuple(repeats) if repeats is not None else smallest_supercell(crystal, max_cells)
    orderings = draw_orderings(crystal, repeats, samples, seed)
    if potential is None:
        chosen = max(orderings, key=lambda o: (o.min_distance_A, -o.index))
        method = "no potential: the ordering with the largest shortest interatomic distance"
    else:
        for ordering in orderings:
            ordering.energy_eV, ordering.message = relax_energy_eV(ordering.structure, potential, lmp, search)
        relaxed = [o for o in orderings if o.energy_eV is not None]
        if not relaxed:
            raise HarnessError(f"{path}: no ordering could be relaxed with {potential} "
                               f"(first failure: {orderings[0].message})")
        chosen = min(relaxed, key=lambda o: (o.energy_eV, o.index))
        method = (f"the lowest energy after relaxation with {potential} (templates/relax.lammps.j2: positions and "
                  "cell, conjugate gradient, LAMMPS)")
    return OrderingResult(crystal, repeats, orderings, chosen, method)


def comment_lines(result: OrderingResult, seed: int) -> list[str]:
    crystal, chosen = result.crystal, result.chosen
    n_cells = math.prod(result.repeats)
    lines = [f"ordered representative of {crystal.source.name}, written by `harness structures order`",
             f"method: supercell {'x'.join(map(str, result.repeats))} ({n_cells} cells); {len(result.orderings)} "
             "orderings drawn uniformly at random per sublattice (numpy default_rng)",
             f"seed: {seed}; chosen: ordering {chosen.index}, by {result.method}",
             "positions: the crystallographic sites of the input (not relaxed)"]
    for sub in crystal.sublattices:
        if sub.ordered:
            continue
        counts = sub.counts(n_cells)
        vacant = len(sub.fractional) * n_cells - sum(counts.values())
        occupancy = ", ".join(f"{e} {o}" for e, o in sub.occupancy.items())
        filled = ", ".join(f"{e} {int(c)}" for e, c in counts.items())
        lines.append(f"sublattice {'+'.join(sub.labels)} (occupancy {occupancy}): "
                     f"{len(sub.fractional) * n_cells} sites -> {filled}, vacant {int(vacant)}")
    lines += [f"note: {n}" for n in crystal.notes]
    for o in result.orderings:
        energy = (f"E = {o.energy_eV:.6f} eV ({o.energy_eV / o.structure.natoms:.6f} eV/atom)"
                  if o.energy_eV is not None else (f"no energy: {o.message}" if o.message else "not relaxed"))
        lines.append(f"ordering {o.index}: {energy}; shortest distance {o.min_distance_A:.3f} A")
    return lines


def write_ordered_cif(result: OrderingResult, out: Path, seed: int) -> None:
    """The chosen ordering as a P1 CIF (ASE writer) with the comment header; written atomically."""
    from ase import Atoms
    from ase.io import write

    structure = result.chosen.structure
    atoms = Atoms(symbols=structure.symbols, cell=structure.cell, positions=structure.positions, pbc=True)
    buffer = io.BytesIO()
    write(buffer, atoms, format="cif")
    text = "".join(f"# {line}\n" for line in comment_lines(result, seed)) + buffer.getvalue().decode()
    out = Path(out)
    if out.parent and not out.parent.is_dir():
        raise HarnessError(f"--out {out}: folder {out.parent} does not exist")
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, out)
    except OSError as exc:
        raise HarnessError(f"--out {out}: cannot write ({exc.strerror})") from None
