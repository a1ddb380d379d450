"""LAMMPS-ML-IAP-MACE against ASE + MACECalculator: MD throughput (atom-steps/s), same model, same cells, one run.

  .venv/bin/python bench/mace_vs_ase.py [--model M.model] [--steps 20] [--threads 2] [--lmp .lammps-mliap/bin/lmp]

Cells: Li7P3S11 3x1x1 (126 atoms) and 4x2x2 (672 atoms). Model: the given MACE model, or the tests' tiny random
one (float64, 2 interactions, 8x0e+8x1o, r_max 5 A). Both run NVE velocity Verlet at 1 fs from 600 K velocities;
LAMMPS time is its own "Loop time" (no start-up), ASE time is the MD loop after one warm-up step. Both use
--threads torch threads (OMP_NUM_THREADS for LAMMPS); --repeats alternating measurements, best of each shown.
Prints a Markdown table with the ratio LAMMPS/ASE.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.lammps_env import child_environment, find_lammps  # noqa: E402
from harness.mace import add_mace, make_tiny_model, mace_calculator_for  # noqa: E402
from harness.potentials import load_potential  # noqa: E402
from harness.render import find_structure  # noqa: E402
from harness.structures import lammps_box, read_cif, supercell, to_lammps_positions, write_lammps_data  # noqa: E402


def lammps_md(potential, cell, lmp, steps: int, threads: int, folder: Path) -> float:
    write_lammps_data(cell, folder / "data.lmp", potential.elements, potential.masses)
    lines = potential.pair_lines({k: str(f.path) for k, f in potential.files.items()})
    (folder / "in.lammps").write_text("\n".join([
        "units metal", "atom_style atomic", "read_data data.lmp", *lines,
        "velocity all create 600.0 4928459 mom yes rot no dist gaussian", "timestep 0.001", "fix nve all nve",
        "thermo 10", "run 1", f"run {steps}", ""]))
    build = find_lammps(lmp)
    proc = subprocess.run([build.executable, "-in", "in.lammps", "-log", "log.lammps"], cwd=folder, text=True,
                          capture_output=True, env=child_environment(build.library_dirs,
                                                                     {"OMP_NUM_THREADS": str(threads),
                                                                      "PYTHONPATH": str(REPO)}))
    loops = re.findall(r"Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps", proc.stdout)
    if proc.returncode != 0 or len(loops) < 2:
        raise SystemExit(f"LAMMPS failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    seconds, nsteps = float(loops[-1][0]), int(loops[-1][1])
    return cell.natoms * nsteps / seconds


def ase_md(calculator, cell, steps: int) -> float:
    from ase import Atoms, units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet
    box, _, _, _ = lammps_box(cell.cell)
    atoms = Atoms(cell.symbols, positions=to_lammps_positions(cell, box), cell=box, pbc=True)
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=600.0)
    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    dyn.run(1)
    start = time.perf_counter()
    dyn.run(steps)
    return cell.natoms * steps / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="MACE .model file (default: the tests' tiny random model)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats; the best of each is shown")
    parser.add_argument("--lmp", default=str(REPO / ".lammps-mliap" / "bin" / "lmp"))
    parser.add_argument("--sizes", default="3x1x1,4x2x2", help="Li7P3S11 supercells, comma separated")
    args = parser.parse_args()
    # the LAMMPS runs happen in a scratch folder: paths given relative to where the script was started
    lmp = Path(args.lmp).resolve() if Path(args.lmp).exists() else shutil.which(args.lmp)
    if lmp is None:
        raise SystemExit(f"no LAMMPS executable {args.lmp!r} (give --lmp PATH to an ML-IAP build)")
    args.lmp = str(lmp)
    args.model = str(Path(args.model).resolve()) if args.model else None
    import torch
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="mace-bench-") as tmp:
        folder = Path(tmp)
        model = Path(args.model) if args.model else make_tiny_model(folder / "tiny.model")
        potential = load_potential(str(add_mace(model, "bench-mace", ["Li", "P", "S"], folder / "potentials")))
        calculator = mace_calculator_for(potential)
        crystal = read_cif(find_structure("Li7P3S11", REPO), name="Li7P3S11")
        print(f"# MACE MD throughput, {platform.node()}, {os.cpu_count()} cores, {args.threads} threads, "
              f"{args.steps} steps, best of {args.repeats}, model {model.name}\n")
        print("| atoms | LAMMPS ML-IAP (atom-steps/s) | ASE MACECalculator (atom-steps/s) | LAMMPS / ASE |")
        print("|---|---|---|---|")
        for size in args.sizes.split(","):
            repeats = tuple(int(v) for v in size.split("x"))
            cell = supercell(crystal, repeats)
            run_dir = folder / f"lmp-{size}"
            run_dir.mkdir()
            lmp_rates, ase_rates = [], []
            for _ in range(args.repeats):  # alternate, keep the best of each: the machine may be shared
                lmp_rates.append(lammps_md(potential, cell, args.lmp, args.steps, args.threads, run_dir))
                ase_rates.append(ase_md(calculator, cell, args.steps))
            lmp_rate, ase_rate = max(lmp_rates), max(ase_rates)
            print(f"| {cell.natoms} | {lmp_rate:.0f} | {ase_rate:.0f} | {lmp_rate / ase_rate:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
