"""Task 1: formation energies along the Li2S–P2S5 tie line, the paper's eq. (1).

    E_f/atom = [E((Li2S)_x(P2S5)_(1-x)) - x E(Li2S) - (1-x) E(P2S5)] / (7 - 4x)

with energies per formula unit of (Li2S)_x(P2S5)_(1-x), which holds 7 - 4x atoms. For a cell with
N_Li lithium and N_P phosphorus atoms on the tie line (N_S = N_Li/2 + 5 N_P/2) this is the same as

    E_f/atom = [E_cell - (N_Li/2) E_fu(Li2S) - (N_P/2) E_fu(P2S5)] / N_atoms

with E_fu the energy per formula unit (3 atoms for Li2S, 7 for P2S5). Energies in eV, E_f in meV/atom.
Both end-points are needed: without a Li2S or P2S5 energy from the same potential and protocol E_f
cannot be computed, and only the raw energies are reported.

The reference CSV (``structure,E_f_meV_per_atom`` or ``structure,formula,energy_per_atom_eV``) is read by the
core's reader, harness.formation_reference, which render runs too; RMSE(E_f) is taken over the structures present
in both. The crystal names, the tie-line composition and eq. (1) per atom come from there and are re-exported here.
"""

from __future__ import annotations

import math
from pathlib import Path

from analysis.errors import AnalysisError
from harness import formation_reference as reference
from harness.errors import HarnessError
from harness.formation_reference import (END_POINTS, PAPER_CRYSTALS, REFERENCE_COLUMNS,  # noqa: F401 (re-exported)
                                         canonical_name, formation_energy_meV_per_atom)


def tie_line_x(counts: dict[str, int]) -> float:
    """x of (Li2S)_x(P2S5)_(1-x) for element counts on the tie line: the core's (harness.formation_reference), its
    errors as AnalysisError."""
    try:
        return reference.tie_line_x(counts)
    except HarnessError as error:
        raise AnalysisError(str(error)) from None


def formation_energy_eq1_eV_per_atom(energy_per_fu_eV: float, x: float, e_li2s_per_fu_eV: float,
                                     e_p2s5_per_fu_eV: float) -> float:
    """The paper's eq. (1) literally: all energies per formula unit of (Li2S)_x(P2S5)_(1-x), Li2S, P2S5."""
    return (energy_per_fu_eV - x * e_li2s_per_fu_eV - (1.0 - x) * e_p2s5_per_fu_eV) / (7.0 - 4.0 * x)


def read_reference(path: Path, known_structures: set[str]) -> tuple[dict[str, float], str | None]:
    """Reference E_f (meV/atom) by canonical structure name, and a note or None: the core's reader
    (harness.formation_reference.read_reference, which render runs too), its errors as AnalysisError."""
    try:
        return reference.read_reference(path, known_structures)
    except HarnessError as error:
        raise AnalysisError(str(error)) from None


def missing_crystals(structures: set[str]) -> list[str]:
    """The paper's eight crystals that are not among ``structures`` (canonical names)."""
    present = {canonical_name(s) for s in structures}
    return [c for c in PAPER_CRYSTALS if c not in present]


def rmse(errors: list[float]) -> float:
    finite = [e for e in errors if math.isfinite(e)]
    return math.sqrt(sum(e * e for e in finite) / len(finite)) if finite else float("nan")
