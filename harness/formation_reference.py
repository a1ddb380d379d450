"""The formation reference CSV of Task 1 (``[formation].reference``): its format, the crystal names it may use, and
the tie-line arithmetic that turns reference energies into reference E_f. Read by ``harness render`` (to refuse a bad
file before anything runs) and by ``harness analyze`` (RMSE(E_f)); one reader in the core, so neither side imports
the other (analysis.formation re-exports these names).

The CSV has the columns ``structure`` and ``E_f_meV_per_atom`` (the reference formation energy, e.g. from DFT, in
meV/atom). Alternatively it may give reference energies, ``structure,formula,energy_per_atom_eV`` (the format of
inputs/reference/formation_chgnet.csv): the reference E_f is then computed by the paper's eq. (1) from the CSV's own
Li2S and P2S5 rows, and is unavailable (with a note) when either end-point is missing. For a cell with N_Li lithium
and N_P phosphorus atoms on the Li2S-P2S5 tie line (N_S = N_Li/2 + 5 N_P/2), eq. (1) reads

    E_f/atom = [E_cell - (N_Li/2) E_fu(Li2S) - (N_P/2) E_fu(P2S5)] / N_atoms

with E_fu the energy per formula unit (3 atoms for Li2S, 7 for P2S5). Energies in eV, E_f in meV/atom. A bad file
is one HarnessError line naming it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from harness.elements import formula_counts
from harness.errors import HarnessError

# The paper's eight crystals (Task 1), in the paper's order, and the two end-points.
PAPER_CRYSTALS = ("Li2P2S6", "Li4P2S7", "Li7P3S11", "alpha-Li3PS4", "beta-Li3PS4", "gamma-Li3PS4",
                  "LT-Li7PS6", "HT-Li7PS6")
END_POINTS = ("Li2S", "P2S5")
REFERENCE_COLUMNS = ("structure", "E_f_meV_per_atom")

_GREEK = {"α": "alpha", "β": "beta", "γ": "gamma"}


def canonical_name(name: str) -> str:
    """Canonical spelling of a structure name: 'α-Li3PS4', 'alpha_li3ps4' and 'Alpha-Li3PS4' give
    'alpha-Li3PS4'; 'lt-li7ps6' gives 'LT-Li7PS6'. Unknown names are returned stripped."""
    text = name.strip()
    for greek, latin in _GREEK.items():
        text = text.replace(greek, latin)
    key = re.sub(r"[\s_\-]", "", text).lower()
    for known in PAPER_CRYSTALS + END_POINTS:
        if re.sub(r"[\s_\-]", "", known).lower() == key:
            return known
    return text


def tie_line_x(counts: dict[str, int]) -> float:
    """x of (Li2S)_x(P2S5)_(1-x) for element counts on the tie line (x = N_Li / (N_Li + N_P))."""
    n_li, n_p, n_s = counts.get("Li", 0), counts.get("P", 0), counts.get("S", 0)
    extra = set(counts) - {"Li", "P", "S"}
    if extra and any(counts[e] for e in extra):
        raise HarnessError(f"composition {counts} has elements other than Li, P, S")
    if n_li + n_p == 0 or abs(n_s - (n_li / 2 + 5 * n_p / 2)) > 1e-9:
        raise HarnessError(f"composition Li{n_li}P{n_p}S{n_s} is not on the Li2S-P2S5 tie line")
    return n_li / (n_li + n_p)


def formation_energy_meV_per_atom(energy_eV: float, counts: dict[str, int], e_li2s_per_atom_eV: float,
                                  e_p2s5_per_atom_eV: float) -> float:
    """E_f per atom (meV/atom) of a cell with total energy ``energy_eV`` and element ``counts``,
    from the end-points' energies per atom (eV/atom)."""
    tie_line_x(counts)
    n_atoms = sum(counts.values())
    e_li2s_fu = 3.0 * e_li2s_per_atom_eV
    e_p2s5_fu = 7.0 * e_p2s5_per_atom_eV
    e_f = (energy_eV - counts.get("Li", 0) / 2.0 * e_li2s_fu - counts.get("P", 0) / 2.0 * e_p2s5_fu) / n_atoms
    return 1000.0 * e_f


def read_reference(path: Path, known_structures: set[str]) -> tuple[dict[str, float], str | None]:
    """Reference E_f (meV/atom) by canonical structure name from a CSV with ``structure,E_f_meV_per_atom``.

    A structure that is neither in ``known_structures`` (the campaign's) nor one of the paper's eight
    crystals (or an end-point) is an error: it is most likely a misspelling. Returns the values and a
    note (or None), e.g. when an energy-style reference lacks an end-point.
    """
    if not path.is_file():
        raise HarnessError(f"formation reference CSV not found: {path}")
    with open(path, newline="", encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(lines)
    fields = reader.fieldnames or []
    energy_style = "E_f_meV_per_atom" not in fields and {"formula", "energy_per_atom_eV"} <= set(fields)
    if "structure" not in fields or not (energy_style or "E_f_meV_per_atom" in fields):
        raise HarnessError(f"formation reference {path} needs the columns {', '.join(REFERENCE_COLUMNS)} "
                            f"(or structure,formula,energy_per_atom_eV); it has: {', '.join(fields)}")
    column = "energy_per_atom_eV" if energy_style else "E_f_meV_per_atom"
    values: dict[str, float] = {}
    formulas: dict[str, str] = {}
    unknown: list[str] = []
    allowed = set(PAPER_CRYSTALS) | set(END_POINTS) | {canonical_name(s) for s in known_structures}
    for row in reader:
        name = canonical_name(row["structure"] or "")
        if name in values:
            raise HarnessError(f"formation reference {path}: {row['structure']} appears twice")
        if name not in allowed:
            unknown.append(row["structure"].strip())
            continue
        try:
            values[name] = float(row[column])
        except (ValueError, TypeError):
            raise HarnessError(f"formation reference {path}: {row['structure']} has a non-numeric "
                                f"{column} {row[column]!r}") from None
        if energy_style:
            formulas[name] = row["formula"]
    if unknown:
        raise HarnessError(f"formation reference {path} names unknown structures: {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(allowed))})")
    if not energy_style:
        return values, None
    missing = [e for e in END_POINTS if e not in values]
    if missing:
        return {}, (f"formation reference {path.name} gives energies but lacks {' and '.join(missing)}: "
                    "reference E_f cannot be formed by eq. (1), RMSE(E_f) not computed")
    e_f = {}
    for name, energy_per_atom in values.items():
        if name in END_POINTS:
            continue
        counts = formula_counts(formulas[name])
        total = energy_per_atom * sum(counts.values())
        e_f[name] = formation_energy_meV_per_atom(total, counts, values["Li2S"], values["P2S5"])
    return e_f, None
