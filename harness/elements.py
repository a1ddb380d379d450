"""Per-element data needed by the harness: atomic masses (amu, IUPAC 2021 abridged) and atomic numbers."""

from __future__ import annotations

import re

from harness.errors import HarnessError

MASS_AMU: dict[str, float] = {
    "H": 1.008, "He": 4.0026, "Li": 6.94, "Be": 9.0122, "B": 10.81, "C": 12.011, "N": 14.007, "O": 15.999,
    "F": 18.998, "Ne": 20.180, "Na": 22.990, "Mg": 24.305, "Al": 26.982, "Si": 28.085, "P": 30.974,
    "S": 32.06, "Cl": 35.45, "Ar": 39.95, "K": 39.098, "Ca": 40.078, "Ge": 72.630, "As": 74.922,
    "Se": 78.971, "Br": 79.904, "Sn": 118.71, "Sb": 121.76, "I": 126.90,
}

ATOMIC_NUMBER: dict[str, int] = {
    "H": 1, "He": 2, "Li": 3, "Be": 4, "B": 5, "C": 6, "N": 7, "O": 8, "F": 9, "Ne": 10, "Na": 11, "Mg": 12,
    "Al": 13, "Si": 14, "P": 15, "S": 16, "Cl": 17, "Ar": 18, "K": 19, "Ca": 20, "Ge": 32, "As": 33,
    "Se": 34, "Br": 35, "Sn": 50, "Sb": 51, "I": 53,
}


def mass_amu(symbol: str) -> float:
    try:
        return MASS_AMU[symbol]
    except KeyError:
        raise KeyError(f"no default mass for element {symbol!r}: give it under [masses] in the potential file") from None


def formula_counts(formula: str) -> dict[str, int]:
    """'Li7P3S11' -> {'Li': 7, 'P': 3, 'S': 11}; anything that is not a run of symbols and counts is an error."""
    tokens = re.findall(r"([A-Z][a-z]?)(\d*)", formula)
    if not tokens or "".join(s + n for s, n in tokens) != formula:
        raise HarnessError(f"cannot read chemical formula {formula!r} (write e.g. 'Li7P3S11')")
    counts: dict[str, int] = {}
    for symbol, number in tokens:
        counts[symbol] = counts.get(symbol, 0) + (int(number) if number else 1)
    return counts
