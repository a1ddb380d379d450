"""LAMMPS + calculator bridge against ASE molecular dynamics driving the same ASE calculator, and the model's own
cost: MD throughput (atom-steps/s) of each route and its fraction of the model-only limit.

  .venv/bin/python bench/bridge_vs_ase.py [--potential chgnet] [--supercells 1x1x1 2x1x1] [--steps 30]
                                          [--threads 2] [--repeats 2]

Same potential file (a `kind = "calculator"` potential, default potentials/chgnet.toml), same cells (Li7P3S11
supercells), same number of NVE velocity-Verlet steps at 1 fs from 600 K velocities, in one run, alternating:
  - bridge: `python runner.py` on an in.lammps with the potential's lines; time = LAMMPS's "Loop time" of the
    measured `run` (after a 1-step warm-up run; no start-up, no model loading);
  - ASE: ase.md.verlet.VelocityVerlet with the calculator built exactly as runner.py builds it; time = the MD
    loop after one warm-up step;
  - model: energy + forces + stress of one configuration, timed alone (positions moved by 1e-4 A each call so
    nothing is cached), the same number of calls; its atom-steps/s is the limit of any MD route.
torch threads = --threads for all three (OMP_NUM_THREADS / torch.set_num_threads). Best of --repeats each.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.calculator import run_files  # noqa: E402
from harness.calculator_launch import interpreter_for  # noqa: E402
from harness.lammps_env import child_environment, find_lammps  # noqa: E402
from harness.potentials import load_potential  # noqa: E402
from harness.render import find_structure  # noqa: E402
from harness.structures import lammps_box, read_cif, supercell, to_lammps_positions, write_lammps_data  # noqa: E402

ASE_AND_MODEL = r'''
import json, sys, time
import numpy as np
sys.path.insert(0, ".")
import runner
from ase import Atoms
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet
from ase import units
import torch
torch.set_num_threads(int(sys.argv[2]))
cell = json.load(open("cell.json"))
steps = int(sys.argv[1])
config = json.load(open("calculator.json"))
calc = runner.build_calculator(config, __import__("pathlib").Path("."))
atoms = Atoms(numbers=cell["numbers"], positions=cell["positions"], cell=cell["cell"], pbc=True)
atoms.calc = calc
MaxwellBoltzmannDistribution(atoms, temperature_K=600.0, rng=np.random.default_rng(1))
dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
dyn.run(1)
start = time.perf_counter()
dyn.run(steps)
ase_s = time.perf_counter() - start
probe = Atoms(numbers=cell["numbers"], positions=cell["positions"], cell=cell["cell"], pbc=True)
runner.evaluate(calc, probe, True)
start = time.perf_counter()
for k in range(steps):
    probe.positions[0, 0] += 1e-4
    runner.evaluate(calc, probe, True)
model_s = time.perf_counter() - start
print(json.dumps({"ase_s": ase_s, "model_s": model_s}))
'''


def prepare(potential, cell, folder: Path, steps: int) -> None:
    write_lammps_data(cell, folder / "data.lmp", potential.elements, potential.masses, force_triclinic=True)
    lines = potential.pair_lines({})
    (folder / "in.lammps").write_text("\n".join([
        "units metal", "atom_style atomic", "atom_modify map array", "read_data data.lmp", *lines,
        "velocity all create 600.0 4928459 mom yes rot no dist gaussian", "timestep 0.001", "fix nve all nve",
        "thermo 10", "run 1", f"run {steps}", ""]))
    for name, text in run_files(potential, {k: str(f.path) for k, f in potential.files.items()}).items():
        (folder / name).write_text(text)
    box, _, _, _ = lammps_box(cell.cell)
    from ase.data import atomic_numbers
    (folder / "cell.json").write_text(json.dumps({"numbers": [atomic_numbers[s] for s in cell.symbols],
                                                  "positions": to_lammps_positions(cell, box).tolist(),
                                                  "cell": box.tolist()}))
    (folder / "ase_and_model.py").write_text(ASE_AND_MODEL)


def bridge_md(python: str, folder: Path, threads: int, natoms: int) -> float:
    build = find_lammps()
    proc = subprocess.run([python, "-u", "runner.py"], cwd=folder, text=True, capture_output=True,
                          env=child_environment(build.library_dirs, {"OMP_NUM_THREADS": str(threads)}))
    loops = re.findall(r"Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps", proc.stdout)
    if proc.returncode != 0 or len(loops) < 2:
        raise SystemExit(f"bridge run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return natoms * int(loops[-1][1]) / float(loops[-1][0])


def ase_and_model(python: str, folder: Path, steps: int, threads: int, natoms: int) -> tuple[float, float]:
    build = find_lammps()
    proc = subprocess.run([python, "ase_and_model.py", str(steps), str(threads)], cwd=folder, text=True,
                          capture_output=True, env=child_environment(build.library_dirs,
                                                                     {"OMP_NUM_THREADS": str(threads)}))
    if proc.returncode != 0:
        raise SystemExit(f"ASE run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    times = json.loads(proc.stdout.strip().splitlines()[-1])
    return natoms * steps / times["ase_s"], natoms * steps / times["model_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--potential", default="chgnet")
    parser.add_argument("--supercells", nargs="+", default=["1x1x1", "2x1x1"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    potential = load_potential(args.potential)
    if potential.calculator is None:
        raise SystemExit(f"{args.potential} is not a calculator potential")
    python = interpreter_for(potential.calculator.python, potential.source)
    crystal = read_cif(find_structure("Li7P3S11", REPO), name="Li7P3S11")
    print(f"# bench/bridge_vs_ase.py --potential {args.potential} --steps {args.steps} --threads {args.threads} "
          f"--repeats {args.repeats}; {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print("| cell | atoms | model only (atom-steps/s) | LAMMPS + bridge | ASE VelocityVerlet | bridge / ASE | "
          "bridge / model | ASE / model |")
    print("|---|---|---|---|---|---|---|---|")
    for spec in args.supercells:
        repeat = [int(n) for n in spec.split("x")]
        cell = supercell(crystal, repeat)
        bridge, ase, model = [], [], []
        with tempfile.TemporaryDirectory(prefix="bench-bridge-") as tmp:
            folder = Path(tmp)
            prepare(potential, cell, folder, args.steps)
            for _ in range(args.repeats):
                bridge.append(bridge_md(python, folder, args.threads, cell.natoms))
                a, m = ase_and_model(python, folder, args.steps, args.threads, cell.natoms)
                ase.append(a)
                model.append(m)
        b, a, m = max(bridge), max(ase), max(model)
        print(f"| Li7P3S11 {spec} | {cell.natoms} | {m:.0f} | {b:.0f} | {a:.0f} | {b / a:.2f} | {b / m:.2f} | "
              f"{a / m:.2f} |", flush=True)


if __name__ == "__main__":
    main()
