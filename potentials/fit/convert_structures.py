"""Copy the shared crystal files into inputs/structures/ as P1 CIFs, converted by ASE (not by hand).

The shared folder (``shared/data/structures``, provenance in its SOURCES.md) holds P2S5 and low-temperature
Li7PS6 as Materials Project POSCARs and Li2P2S6 as a C2/m CIF from OBELiX. ASE reads each file (expanding the
C2/m symmetry operations of the OBELiX CIF into the 20-atom conventional cell) and writes a P1 CIF; the only
thing added is a comment header naming the source file and its sha256. Cell and coordinates are those of the
source (ASE keeps the lattice vectors of a POSCAR; the CIF stores lengths and angles, i.e. the same cell in the
standard orientation).

Run: .venv/bin/python potentials/fit/convert_structures.py /work/shared/data/structures
"""

from __future__ import annotations

import argparse
import hashlib
import io
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent.parent
STRUCTURES_DIR = REPO_DIR / "inputs" / "structures"

# shared source file -> shipped file name (the name before the first "_" is the structure's name)
CONVERSIONS: dict[str, str] = {
    "P2S5_P-1_28at_mp-541788_r2SCAN.vasp": "P2S5_P-1_28at_mp-541788_r2SCAN.cif",
    "Li7PS6-LT_Pna21_56at_mp-1211324_GGA.vasp": "LT-Li7PS6_Pna21_56at_mp-1211324_GGA.cif",
    "Li2P2S6_C2m_20at_OBELiX-cfy.cif": "Li2P2S6_C2m_20at_OBELiX-cfy.cif",
}


def convert(source: Path, target: Path) -> str:
    """Read ``source`` with ASE, write a P1 CIF to ``target``; returns a one-line summary."""
    from ase.io import read, write

    atoms = read(source)
    buffer = io.BytesIO()
    write(buffer, atoms, format="cif")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    header = (f"# {target.stem}: converted by potentials/fit/convert_structures.py (ASE ase.io.read -> write cif)\n"
              f"# from shared/data/structures/{source.name} (sha256 {digest}); provenance: inputs/structures/SOURCES.md\n")
    target.write_text(header + buffer.getvalue().decode())
    a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
    return (f"{target.name}: {len(atoms)} atoms {atoms.get_chemical_formula()}, a={a:.4f} b={b:.4f} c={c:.4f} Å "
            f"{alpha:.3f}/{beta:.3f}/{gamma:.3f}°, V={atoms.get_volume():.2f} Å^3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", type=Path, help="the shared structures folder (shared/data/structures)")
    args = parser.parse_args()
    for source, target in CONVERSIONS.items():
        print(convert(args.source_dir / source, STRUCTURES_DIR / target))


if __name__ == "__main__":
    main()
