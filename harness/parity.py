"""LAMMPS against ASE on one cell: the differences both `harness potentials check` parity checks measure (MACE
through ML-IAP, harness/mace.py; calculator potentials through the bridge, harness/calculator_check.py), and the
criteria each applies to them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.units import PA_PER_BAR, PA_PER_GPA

if TYPE_CHECKING:   # numpy is imported where used: `harness launch` imports the check modules' light parts
    import numpy as np

EV_PER_A3_IN_BAR = 1.6021765e6     # LAMMPS metal units (its nktv2p), so that LAMMPS's bar converts back exactly
EV_PER_A3_IN_GPA = EV_PER_A3_IN_BAR * PA_PER_BAR / PA_PER_GPA


@dataclass(frozen=True)
class ParityCriteria:
    energy_eV_per_atom: float
    force_eV_per_A: float
    stress: float               # the largest stress component difference allowed, in stress_unit
    stress_unit: str            # "relative" (to the largest ASE component) or "GPa"
    pressure_fraction: float    # LAMMPS's pressure may differ from -dE/dV by fraction * |-dE/dV| + pressure_bar
    pressure_bar: float
    sign_above_bar: float       # and must have its sign where |-dE/dV| exceeds this

    @property
    def stress_key(self) -> str:
        """The field of a cell's stress difference in the check record (dstress_relative, dstress_gpa)."""
        return f"dstress_{self.stress_unit.lower()}"

    def tolerances(self) -> dict[str, float]:
        return {"energy_eV_per_atom": self.energy_eV_per_atom, "force_eV_per_A": self.force_eV_per_A,
                f"stress_{self.stress_unit}": self.stress}


@dataclass
class CellResult:
    name: str
    natoms: int
    de_ev_per_atom: float
    df_ev_per_a: float
    dstress: float              # in criteria.stress_unit
    pressure_bar: float
    pressure_fd_bar: float
    energy_ev_per_atom: float = math.nan
    criteria: ParityCriteria = field(kw_only=True)

    def failures(self) -> list[str]:
        limits, out = self.criteria, []
        if not self.de_ev_per_atom <= limits.energy_eV_per_atom:
            out.append(f"{self.name}: energy differs from ASE by {self.de_ev_per_atom:.3g} eV/atom")
        if not self.df_ev_per_a <= limits.force_eV_per_A:
            out.append(f"{self.name}: forces differ from ASE by {self.df_ev_per_a:.3g} eV/A")
        if not self.dstress <= limits.stress:
            unit = "(relative)" if limits.stress_unit == "relative" else limits.stress_unit
            out.append(f"{self.name}: stress differs from ASE by {self.dstress:.3g} {unit}")
        p, fd = self.pressure_bar, self.pressure_fd_bar
        if not abs(p - fd) <= limits.pressure_fraction * abs(fd) + limits.pressure_bar or (
                abs(fd) > limits.sign_above_bar and (p > 0) != (fd > 0)):
            out.append(f"{self.name}: LAMMPS pressure {p:.6g} bar vs -dE/dV {fd:.6g} bar (wrong sign or virial)")
        return out

    def record(self) -> dict[str, Any]:
        """The cell's entry in the check record."""
        return {"name": self.name, "natoms": self.natoms, "de_ev_per_atom": self.de_ev_per_atom,
                "df_ev_per_a": self.df_ev_per_a, self.criteria.stress_key: self.dstress,
                "pressure_bar": self.pressure_bar, "pressure_fd_bar": self.pressure_fd_bar,
                "energy_ev_per_atom": self.energy_ev_per_atom}

    def summary(self) -> str:
        unit = "rel." if self.criteria.stress_unit == "relative" else self.criteria.stress_unit
        return (f"on {self.name} ({self.natoms} atoms): dE {self.de_ev_per_atom:.1e} eV/atom, "
                f"dF {self.df_ev_per_a:.1e} eV/A, dstress {self.dstress:.1e} {unit}, "
                f"P {self.pressure_bar:.6g} bar vs -dE/dV {self.pressure_fd_bar:.6g} bar")


def compare_cell(name: str, natoms: int, lammps: dict[str, list[float]], lammps_forces: np.ndarray,
                 reference_energy_eV: float, reference_forces: np.ndarray, reference_stress: np.ndarray,
                 criteria: ParityCriteria) -> CellResult:
    """One cell's result. ``lammps``: the thermo values printed by the check's input ("base": pe pxx pyy pzz pyz
    pxz pxy ...; "plus", "minus": pe vol of the cell scaled up and down); the reference: ASE's energy (eV),
    forces (eV/A) and Voigt stress (eV/A^3)."""
    import numpy as np
    pe, pxx, pyy, pzz, pyz, pxz, pxy = lammps["base"][:7]
    lammps_stress = -np.array([pxx, pyy, pzz, pyz, pxz, pxy]) / EV_PER_A3_IN_BAR
    difference = float(np.abs(lammps_stress - np.asarray(reference_stress)).max())
    if criteria.stress_unit == "relative":
        dstress = difference / max(float(np.abs(reference_stress).max()), 1e-12)
    else:
        dstress = difference * EV_PER_A3_IN_GPA
    (e_plus, v_plus), (e_minus, v_minus) = lammps["plus"], lammps["minus"]
    return CellResult(name=name, natoms=natoms, de_ev_per_atom=abs(pe - reference_energy_eV) / natoms,
                      df_ev_per_a=float(np.abs(np.asarray(lammps_forces) - np.asarray(reference_forces)).max()),
                      dstress=dstress, pressure_bar=(pxx + pyy + pzz) / 3.0,
                      pressure_fd_bar=-(e_plus - e_minus) / (v_plus - v_minus) * EV_PER_A3_IN_BAR,
                      energy_ev_per_atom=pe / natoms, criteria=criteria)
