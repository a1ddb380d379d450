"""Physical constants and unit conversions: the one place where units change.

Inside LAMMPS we use ``units metal``: time in ps, distance in Å, energy in eV,
pressure in bar, temperature in K. Users speak K, Pa (or GPa, bar), ps, fs;
conductivity is reported in mS/cm and diffusion coefficients in cm^2/s.
Every function name says the units it converts from and to.
"""

from __future__ import annotations

import re

# CODATA 2018 exact / recommended values.
BOLTZMANN_EV_PER_K = 8.617333262e-5
BOLTZMANN_J_PER_K = 1.380649e-23
ELEMENTARY_CHARGE_C = 1.602176634e-19
AVOGADRO_PER_MOL = 6.02214076e23

PA_PER_BAR = 1.0e5
PA_PER_GPA = 1.0e9
PA_PER_ATM = 101325.0
FS_PER_PS = 1000.0
M_PER_ANGSTROM = 1.0e-10
CM_PER_ANGSTROM = 1.0e-8
# LAMMPS metal units report pressure in bar.
_PRESSURE_UNITS_TO_PA = {"pa": 1.0, "kpa": 1e3, "mpa": 1e6, "gpa": PA_PER_GPA, "bar": PA_PER_BAR,
                         "kbar": 1e3 * PA_PER_BAR, "atm": PA_PER_ATM}


def pa_to_bar(pressure_pa: float) -> float:
    """Pa -> bar (the LAMMPS metal pressure unit). 1e12 Pa is 1e7 bar."""
    return pressure_pa / PA_PER_BAR


def bar_to_pa(pressure_bar: float) -> float:
    return pressure_bar * PA_PER_BAR


def fs_to_ps(time_fs: float) -> float:
    return time_fs / FS_PER_PS


def ps_to_fs(time_ps: float) -> float:
    return time_ps * FS_PER_PS


def steps_for(duration_ps: float, timestep_fs: float) -> int:
    """Number of MD steps covering ``duration_ps`` at ``timestep_fs`` (rounded to nearest, at least 1)."""
    if duration_ps <= 0 or timestep_fs <= 0:
        raise ValueError("duration and timestep must be positive")
    return max(1, int(round(ps_to_fs(duration_ps) / timestep_fs)))


def a2_per_ps_to_cm2_per_s(d_a2_ps: float) -> float:
    """Diffusion coefficient Å^2/ps -> cm^2/s (1 Å^2/ps = 1e-4 cm^2/s)."""
    return d_a2_ps * CM_PER_ANGSTROM**2 / 1.0e-12


def cm2_per_s_to_a2_per_ps(d_cm2_s: float) -> float:
    return d_cm2_s / a2_per_ps_to_cm2_per_s(1.0)


def nernst_einstein_ms_per_cm(d_cm2_s: float, n_carriers: int, volume_a3: float, temperature_k: float,
                              charge_e: float = 1.0) -> float:
    """Nernst–Einstein conductivity σ = n q² D / (k_B T) in mS/cm.

    ``n_carriers`` ions of charge ``charge_e`` (in units of e) in a cell of ``volume_a3`` Å^3,
    tracer diffusion coefficient ``d_cm2_s`` in cm^2/s, temperature in K.
    """
    if volume_a3 <= 0 or temperature_k <= 0:
        raise ValueError("volume and temperature must be positive")
    n_per_cm3 = n_carriers / (volume_a3 * CM_PER_ANGSTROM**3)
    q_c = charge_e * ELEMENTARY_CHARGE_C
    sigma_s_per_cm = n_per_cm3 * q_c**2 * d_cm2_s / (BOLTZMANN_J_PER_K * temperature_k)
    return sigma_s_per_cm * 1.0e3


_PRESSURE_RE = re.compile(r"^\s*([-+0-9.eE]+)\s*([A-Za-z]+)\s*$")


def parse_pressure_pa(value: float | int | str) -> float:
    """A pressure given as a number (Pa) or a string with a unit ("1 GPa", "1e5 Pa", "10 bar") -> Pa."""
    if isinstance(value, bool):
        raise ValueError(f"not a pressure: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    match = _PRESSURE_RE.match(value)
    if not match:
        raise ValueError(f"not a pressure: {value!r} (use a number in Pa or e.g. '1 GPa', '10 bar')")
    number, unit = match.groups()
    factor = _PRESSURE_UNITS_TO_PA.get(unit.lower())
    if factor is None:
        raise ValueError(f"unknown pressure unit {unit!r} in {value!r} (known: Pa, kPa, MPa, GPa, bar, kbar, atm)")
    return float(number) * factor
