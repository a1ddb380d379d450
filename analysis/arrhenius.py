"""Arrhenius fit of D(T), extrapolation to 298 K and Nernst–Einstein conductivity (Task 3).

Units: temperature in K, D in cm^2/s, activation energy in eV, conductivity in mS/cm, volume in Å^3.

The model is ln D = ln D0 - Ea / (k_B T). Following the paper (Fig. 6, Table 3), the fit uses the
mean D over repeats at each temperature. It is a weighted least-squares line in (1/(k_B T), ln D) with
weights 1/s^2, s = err(D)/D; the parameter covariance is the inverse normal matrix, multiplied by the
reduced chi-square when that exceeds 1 (scatter larger than the error bars widens the errors). Without
usable error bars the fit is unweighted and the covariance comes from the residuals (n > 2 needed).
The uncertainty of ln D(298 K) is propagated from the full covariance; err(D) = D * err(ln D).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from analysis.errors import AnalysisError
from harness.units import BOLTZMANN_EV_PER_K, nernst_einstein_ms_per_cm

ROOM_TEMPERATURE_K = 298.0
DATA_DIR = Path(__file__).resolve().parent / "data"
LITERATURE_CSV = DATA_DIR / "li7p3s11_conductivity_literature.csv"

# Which rows of the paper's Table 2 span the accepted band (see literature_band).
BANDS = ("crystal", "all", "highlighted")


@dataclass
class ArrheniusFit:
    """Result of :func:`fit_arrhenius`. ``ln_d0`` is ln(D0 / (cm^2/s))."""

    ea_eV: float
    ea_err_eV: float
    ln_d0: float
    covariance: np.ndarray
    n_points: int
    weighted: bool
    reduced_chi2: float

    def ln_d(self, temperature_K: float) -> tuple[float, float]:
        """ln D at a temperature and its propagated standard error."""
        x = 1.0 / (BOLTZMANN_EV_PER_K * temperature_K)
        value = self.ln_d0 - self.ea_eV * x
        gradient = np.array([1.0, -x])
        variance = float(gradient @ self.covariance @ gradient)
        return value, math.sqrt(variance) if variance >= 0 and np.isfinite(variance) else float("nan")

    def d_cm2_per_s(self, temperature_K: float) -> tuple[float, float]:
        """D at a temperature (cm^2/s) and its standard error, D * err(ln D)."""
        value, error = self.ln_d(temperature_K)
        d = math.exp(value)
        return d, d * error


def fit_arrhenius(temperature_K: Sequence[float], d_cm2_per_s: Sequence[float],
                  d_err_cm2_per_s: Sequence[float] | None = None) -> ArrheniusFit:
    """Fit ln D = ln D0 - Ea/(k_B T) (see module docstring)."""
    t = np.asarray(temperature_K, dtype=float)
    d = np.asarray(d_cm2_per_s, dtype=float)
    if len(t) != len(d):
        raise AnalysisError("temperatures and diffusion coefficients differ in length")
    good = np.isfinite(t) & np.isfinite(d) & (d > 0) & (t > 0)
    if len(np.unique(t[good])) < 2:
        raise AnalysisError("an Arrhenius fit needs positive D at two or more temperatures")
    x = 1.0 / (BOLTZMANN_EV_PER_K * t[good])
    y = np.log(d[good])
    design = np.column_stack([np.ones_like(x), -x])
    n = len(x)
    weighted = False
    if d_err_cm2_per_s is not None:
        s = np.asarray(d_err_cm2_per_s, dtype=float)[good] / d[good]
        weighted = bool(np.all(np.isfinite(s)) and np.all(s > 0))
    if weighted:
        w = 1.0 / s**2
        normal = design.T @ (design * w[:, None])
        covariance = np.linalg.inv(normal)
        params = covariance @ (design.T @ (w * y))
        residual = y - design @ params
        chi2 = float(np.sum(w * residual**2))
        reduced = chi2 / (n - 2) if n > 2 else float("nan")
        if n > 2 and reduced > 1.0:
            covariance = covariance * reduced
    else:
        normal = design.T @ design
        inverse = np.linalg.inv(normal)
        params = inverse @ (design.T @ y)
        residual = y - design @ params
        if n > 2:
            reduced = float(np.sum(residual**2) / (n - 2))
            covariance = inverse * reduced
        else:
            reduced = float("nan")
            covariance = np.full((2, 2), np.nan)
    ea_err = math.sqrt(covariance[1, 1]) if np.isfinite(covariance[1, 1]) else float("nan")
    return ArrheniusFit(ea_eV=float(params[1]), ea_err_eV=ea_err, ln_d0=float(params[0]),
                        covariance=covariance, n_points=n, weighted=weighted, reduced_chi2=reduced)


def mean_over_repeats(d_cm2_per_s: Sequence[float], d_err_cm2_per_s: Sequence[float]) -> tuple[float, float]:
    """Mean D over repeats and its standard error.

    With two or more repeats: the standard error of the mean over repeats (the spread), but never smaller
    than the combined block-averaging error sqrt(sum err^2)/n. With one repeat: its block error.
    """
    d = np.asarray([v for v in d_cm2_per_s if np.isfinite(v)], dtype=float)
    e = np.asarray([e for v, e in zip(d_cm2_per_s, d_err_cm2_per_s) if np.isfinite(v)], dtype=float)
    if len(d) == 0:
        return float("nan"), float("nan")
    mean = float(d.mean())
    block = float(np.sqrt(np.nansum(e**2)) / len(d)) if np.any(np.isfinite(e)) else float("nan")
    if len(d) == 1:
        return mean, block
    spread = float(d.std(ddof=1) / np.sqrt(len(d)))
    return mean, max(spread, block) if np.isfinite(block) else spread


def conductivity_ms_per_cm(d_cm2_per_s: float, n_li: int, volume_A3: float, temperature_K: float) -> float:
    """Nernst–Einstein σ = n e² D / (k_B T), n = n_li / volume (Li number density of the cell), in mS/cm."""
    return nernst_einstein_ms_per_cm(d_cm2_per_s, n_li, volume_A3, temperature_K)


def read_literature(path: Path = LITERATURE_CSV) -> list[dict]:
    """Rows of the paper's Table 2 (comment lines starting with '#' skipped)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [line for line in handle if not line.startswith("#")]
    return list(csv.DictReader(rows))


def literature_band(kind: str = "crystal", path: Path = LITERATURE_CSV) -> tuple[float, float]:
    """Accepted σ298 band (low, high) in mS/cm from the paper's Table 2.

    * ``crystal`` (default): min to max over the crystalline Li7P3S11 rows, experiment and AIMD (4 to 84).
      The simulated phase is the crystal, and this band agrees with every statement of the paper about its
      Table 3 (all fine-tuned values 11-40 inside; 125 and 137 over-predicted; 3 below).
    * ``all``: min to max over every row, glass-ceramics included (0.011 to 84).
    * ``highlighted``: the two values the paper sets in bold, best experiment 17 to AIMD (PBEsol) 61.
    """
    rows = read_literature(path)
    values = [(row, float(row["sigma_rt_mS_cm"])) for row in rows if row["sigma_rt_mS_cm"]]
    if kind == "crystal":
        chosen = [v for row, v in values if row["phase"] == "crystal"]
    elif kind == "all":
        chosen = [v for _, v in values]
    elif kind == "highlighted":
        chosen = [v for row, v in values if row["note"]]
    else:
        raise AnalysisError(f"unknown literature band {kind!r} (choose from {', '.join(BANDS)})")
    return min(chosen), max(chosen)


def compare_with_band(sigma_ms_per_cm: float, band: tuple[float, float]) -> str:
    """'inside', 'above' or 'below' the band (edges inclusive); 'unknown' for a missing value."""
    if not np.isfinite(sigma_ms_per_cm):
        return "unknown"
    low, high = band
    if sigma_ms_per_cm < low:
        return "below"
    if sigma_ms_per_cm > high:
        return "above"
    return "inside"
