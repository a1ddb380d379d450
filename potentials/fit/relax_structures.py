"""Relax the shipped crystals with CHGNet 0.3.0 (positions and cell): the demo reference of Task 1.

Writes
  inputs/structures/gamma-Li3PS4_Pmn21_16at_CHGNet-relaxed.cif   (the prototype, relaxed: the shipped gamma)
  inputs/reference/chgnet-relaxed/<name>.cif                     (every crystal as CHGNet relaxed it, ASE CIF:
                                                                  the structures of the single-point protocol)
  inputs/reference/formation_chgnet.csv                         (CHGNet energies of all relaxed crystals)

The CSV is the reference of both Task 1 protocols: the paper compares the potential's E_f, (i) on crystals the
potential relaxed itself and (ii) as single points on the reference-relaxed crystals, with the reference method's
E_f on its own relaxed crystals. Here the reference method is CHGNet, not DFT.

Run (2 torch threads): flock /tmp/heavy.lock .venv/bin/python potentials/fit/relax_structures.py
"""

from __future__ import annotations

import csv
import io
import sys
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

# structure name (as the harness and analysis/formation.py spell it) -> the shipped input it is relaxed from
SOURCE_FILES: dict[str, str] = {
    "Li7P3S11": "Li7P3S11_P-1_42at_torchdisorder.cif",
    "beta-Li3PS4": "beta-Li3PS4_Pnma_32at_ordered_torchdisorder.cif",
    "gamma-Li3PS4": "gamma-Li3PS4_Pmn21_16at_PROTOTYPE_unrelaxed.cif",
    "Li2S": "Li2S_Fm-3m_12at_constructed.cif",
    "P2S5": "P2S5_P-1_28at_mp-541788_r2SCAN.cif",
    "LT-Li7PS6": "LT-Li7PS6_Pna21_56at_mp-1211324_GGA.cif",
    "Li2P2S6": "Li2P2S6_C2m_20at_OBELiX-cfy.cif",
}
FMAX_EV_PER_A = 0.01
MAX_STEPS = 1500
RELAXED_DIR = common.REPO_DIR / "inputs" / "reference" / "chgnet-relaxed"


def main() -> None:
    common.setup_threads(2)
    from ase.io import read, write
    from chgnet.model import StructOptimizer
    from pymatgen.io.ase import AseAtomsAdaptor

    optimizer = StructOptimizer()
    RELAXED_DIR.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, filename in SOURCE_FILES.items():
        atoms = read(common.STRUCTURES_DIR / filename)
        v0 = atoms.get_volume()  # the optimizer relaxes `atoms` in place
        with redirect_stdout(io.StringIO()):
            result = optimizer.relax(atoms, fmax=FMAX_EV_PER_A, steps=MAX_STEPS, relax_cell=True, verbose=False)
        structure = result["final_structure"]
        relaxed = AseAtomsAdaptor.get_atoms(structure)
        energy_eV = float(result["trajectory"].energies[-1])
        nsteps = len(result["trajectory"].energies)
        v1 = relaxed.get_volume()
        a, b, c, al, be, ga = relaxed.cell.cellpar()
        print(f"{name}: {len(atoms)} atoms, {nsteps} steps, V {v0:.2f} -> {v1:.2f} Å^3, "
              f"E = {energy_eV:.5f} eV ({energy_eV / len(atoms):.5f} eV/atom), "
              f"min distance {common.min_pair_distance_A(relaxed):.3f} Å", flush=True)
        rows.append({"structure": name, "formula": structure.composition.reduced_formula, "natoms": len(atoms),
                     "energy_eV": f"{energy_eV:.6f}", "energy_per_atom_eV": f"{energy_eV / len(atoms):.6f}"})
        buffer = io.BytesIO()
        write(buffer, relaxed, format="cif")
        header = [f"# {name} relaxed with CHGNet 0.3.0 (chgnet 0.4.2) from inputs/structures/{filename}:",
                  f"# positions and cell, FIRE + FrechetCellFilter, fmax {FMAX_EV_PER_A} eV/A, {nsteps} steps, "
                  f"E = {energy_eV:.6f} eV.",
                  "# A CHGNet geometry (the demo reference of Task 1), not a DFT or experimental one.",
                  "# Written by potentials/fit/relax_structures.py (ASE CIF writer)."]
        (RELAXED_DIR / f"{name}.cif").write_text("\n".join(header) + "\n" + buffer.getvalue().decode())
        if name == "gamma-Li3PS4":
            common.write_p1_cif(
                relaxed, common.STRUCTURES_DIR / common.CRYSTAL_FILES["gamma-Li3PS4"], "gamma-Li3PS4",
                ["gamma-Li3PS4 (Pmn2_1 prototype, see SOURCES.md) relaxed with CHGNet 0.3.0 (chgnet 0.4.2):",
                 f"positions and cell, FIRE + FrechetCellFilter, fmax {FMAX_EV_PER_A} eV/A, {nsteps} steps.",
                 f"Written by potentials/fit/relax_structures.py. a={a:.4f} b={b:.4f} c={c:.4f} A, "
                 f"alpha={al:.2f} beta={be:.2f} gamma={ga:.2f}"])
    out = common.REPO_DIR / "inputs" / "reference" / "formation_chgnet.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
