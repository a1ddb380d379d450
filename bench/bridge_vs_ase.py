"""LAMMPS + calculator bridge against ASE molecular dynamics driving the same ASE calculator, and the model's own
cost: MD throughput (atom-steps/s) of each route, its fraction of the model-only limit, and each route's fixed cost
per step on top of the model.

  .venv/bin/python bench/bridge_vs_ase.py [--potential chgnet|ase-lj|FILE.toml] [--supercells 1x1x1 2x1x1]
                                          [--steps 30] [--warmup 3] [--threads 2] [--repeats 2]

Same potential file (a `kind = "calculator"` potential, default potentials/chgnet.toml; `ase-lj` is ASE's
LennardJones calculator, a model so cheap that the routes' own costs dominate), same cells (Li7P3S11 supercells),
same number of NVE velocity-Verlet steps at 1 fs from 600 K velocities, in one run, interleaved (bridge, ASE,
model, bridge, ASE, model, ...; each in a fresh process, so the machine's noise hits all alike):
  - bridge: `python runner.py` on an in.lammps with the potential's lines; time = LAMMPS's "Loop time" of the
    measured `run` (after a `run WARMUP`; no start-up, no model loading);
  - ASE: ase.md.verlet.VelocityVerlet with the calculator built exactly as runner.py builds it; time = the MD
    loop after WARMUP warm-up steps;
  - model: what the bridge asks of the calculator each step (energy + forces + stress, runner.evaluate) on one
    configuration, timed alone (positions moved by 1e-4 A each call so nothing is cached), the same number of
    calls; its atom-steps/s is the limit of any MD route that uses this calculator.
torch threads = --threads for all three (OMP_NUM_THREADS, and torch.set_num_threads in the ASE process). Best of
--repeats each; the ratio columns are of the best rates, "bridge / ASE paired" is the median (min-max) of the
ratios of the repeats (each pair measured back to back). "overhead" = time per step minus the model's time per
step (ms): what the route adds to the calculator (LAMMPS's step and the callback, or ASE's integrator).
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.calculator import run_files  # noqa: E402
from harness.calculator_launch import interpreter_for  # noqa: E402
from harness.lammps_env import child_environment, find_lammps  # noqa: E402
from harness.potentials import Potential, load_potential  # noqa: E402
from harness.render import find_structure  # noqa: E402
from harness.structures import (Structure, lammps_box, read_cif, supercell, to_lammps_positions,  # noqa: E402
                                write_lammps_data)

# ASE's own Lennard-Jones (any element): the cheapest real calculator, so the bridge's and ASE's fixed costs show.
ASE_LJ_TOML = """name = "ase-lj"
kind = "calculator"
description = "ASE LennardJones (bench only: a cheap calculator, so the routes' own costs per step show)"
elements = ["Li", "P", "S"]
[calculator]
import = "ase.calculators.lj:LennardJones"
device = "cpu"
[calculator.kwargs]
sigma = 2.0
epsilon = 0.01
rc = 5.0
smooth = true
"""
BUILTIN = {"ase-lj": ASE_LJ_TOML}

ASE_AND_MODEL = r'''
import json, sys, time
import numpy as np
sys.path.insert(0, ".")
import runner
from ase import Atoms
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet
from ase import units
steps, warmup, threads, what = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
try:
    import torch
    torch.set_num_threads(threads)
    torch_threads = torch.get_num_threads()
except ImportError:
    torch_threads = None
cell = json.load(open("cell.json"))
config = json.load(open("calculator.json"))
calc = runner.build_calculator(config, __import__("pathlib").Path("."))
want_stress = bool(config.get("stress", True))
result = {"torch_threads": torch_threads}
if "ase" in what:
    atoms = Atoms(numbers=cell["numbers"], positions=cell["positions"], cell=cell["cell"], pbc=True)
    atoms.calc = calc
    MaxwellBoltzmannDistribution(atoms, temperature_K=600.0, rng=np.random.default_rng(1))
    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    dyn.run(warmup)
    start = time.perf_counter()
    dyn.run(steps)
    result["ase_s"] = time.perf_counter() - start
if "model" in what:
    probe = Atoms(numbers=cell["numbers"], positions=cell["positions"], cell=cell["cell"], pbc=True)
    for k in range(max(warmup, 1)):
        probe.positions[0, 0] += 1e-4
        runner.evaluate(calc, probe, want_stress)
    calls = []
    for k in range(steps):
        probe.positions[0, 0] += 1e-4
        start = time.perf_counter()
        runner.evaluate(calc, probe, want_stress)
        calls.append(time.perf_counter() - start)
    result["model_s"] = sum(calls)
    result["model_best_call_s"] = min(calls)
print(json.dumps(result))
'''
LOOP = re.compile(r"Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps")


def bench_potential(name: str, folder: Path) -> Potential:
    """A potential by name or file; the bench's built-in ones (BUILTIN) are written into ``folder`` first."""
    if name in BUILTIN:
        path = folder / f"{name}.toml"
        path.write_text(BUILTIN[name])
        return load_potential(str(path))
    return load_potential(name)


def prepare(potential: Potential, cell: Structure, folder: Path, steps: int, warmup: int) -> None:
    """The bridge's in.lammps + runner files, and the cell and script of the ASE and model-only measurements."""
    write_lammps_data(cell, folder / "data.lmp", potential.elements, potential.masses, force_triclinic=True)
    lines = potential.pair_lines({})
    (folder / "in.lammps").write_text("\n".join([
        "units metal", "atom_style atomic", "atom_modify map array", "read_data data.lmp", *lines,
        "velocity all create 600.0 4928459 mom yes rot no dist gaussian", "timestep 0.001", "fix nve all nve",
        "thermo 10", f"run {max(warmup, 1)}", f"run {steps}", ""]))
    for name, text in run_files(potential, {k: str(f.path) for k, f in potential.files.items()}).items():
        (folder / name).write_text(text)
    box, _, _, _ = lammps_box(cell.cell)
    from ase.data import atomic_numbers
    (folder / "cell.json").write_text(json.dumps({"numbers": [atomic_numbers[s] for s in cell.symbols],
                                                  "positions": to_lammps_positions(cell, box).tolist(),
                                                  "cell": box.tolist()}))
    (folder / "ase_and_model.py").write_text(ASE_AND_MODEL)


def loop_rate(stdout: str, natoms: int) -> float | None:
    """atom-steps/s of the last `run` of a LAMMPS output (its own "Loop time"), None without two runs."""
    loops = LOOP.findall(stdout)
    if len(loops) < 2:
        return None
    return natoms * int(loops[-1][1]) / float(loops[-1][0])


def bridge_md(python: str, folder: Path, threads: int, natoms: int) -> float:
    build = find_lammps()
    proc = subprocess.run([python, "-u", "runner.py"], cwd=folder, text=True, capture_output=True,
                          env=child_environment(build.library_dirs, {"OMP_NUM_THREADS": str(threads)}))
    rate = loop_rate(proc.stdout, natoms)
    if proc.returncode != 0 or rate is None:
        raise SystemExit(f"bridge run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return rate


def ase_and_model(python: str, folder: Path, steps: int, warmup: int, threads: int, natoms: int,
                  what: str = "ase,model") -> dict[str, float]:
    """atom-steps/s of ASE MD ("ase") and of the calculator alone ("model", "model_best_call") in one process."""
    build = find_lammps()
    proc = subprocess.run([python, "ase_and_model.py", str(steps), str(warmup), str(threads), what], cwd=folder,
                          text=True, capture_output=True,
                          env=child_environment(build.library_dirs, {"OMP_NUM_THREADS": str(threads)}))
    if proc.returncode != 0:
        raise SystemExit(f"ASE run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    times = json.loads(proc.stdout.strip().splitlines()[-1])
    if times["torch_threads"] not in (None, threads):
        raise SystemExit(f"ASE process runs {times['torch_threads']} torch threads, not {threads}")
    rates = {}
    if "ase_s" in times:
        rates["ase"] = natoms * steps / times["ase_s"]
    if "model_s" in times:
        rates["model"] = natoms * steps / times["model_s"]
        rates["model_best_call"] = natoms / times["model_best_call_s"]
    return rates


@dataclass
class Rates:
    """atom-steps/s of every repeat of each route, in the order they were measured."""
    by_route: dict[str, list[float]] = field(default_factory=dict)

    def add(self, route: str, rate: float) -> None:
        self.by_route.setdefault(route, []).append(rate)

    def best(self, route: str) -> float:
        return max(self.by_route[route])

    def paired(self, route: str, reference: str) -> str:
        """Median (min-max) of the per-repeat ratios route / reference."""
        ratios = [a / b for a, b in zip(self.by_route[route], self.by_route[reference])]
        return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"


def overhead_ms(rate: float, model_rate: float, natoms: int) -> float:
    """What a route adds per step to the calculator's own time (ms)."""
    return 1000.0 * natoms * (1.0 / rate - 1.0 / model_rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--potential", default="chgnet", help=f"a calculator potential (name or .toml) or one of "
                        f"{sorted(BUILTIN)}")
    parser.add_argument("--supercells", nargs="+", default=["1x1x1", "2x1x1"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3, help="steps before the timed ones, in every route")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    crystal = read_cif(find_structure("Li7P3S11", REPO), name="Li7P3S11")
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as tmp:
        potential = bench_potential(args.potential, Path(tmp))
        if potential.calculator is None:
            raise SystemExit(f"{args.potential} is not a calculator potential")
        python = interpreter_for(potential.calculator.python, potential.source)
        print(f"# bench/bridge_vs_ase.py --potential {args.potential} --steps {args.steps} --warmup {args.warmup} "
              f"--threads {args.threads} --repeats {args.repeats}; {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
        print("| cell | atoms | model only (atom-steps/s) | LAMMPS + bridge | ASE VelocityVerlet | bridge / ASE | "
              "bridge / ASE paired | bridge / model | ASE / model | model (ms/step) | bridge overhead (ms/step) | "
              "ASE overhead (ms/step) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for spec in args.supercells:
            cell = supercell(crystal, [int(n) for n in spec.split("x")])
            folder = Path(tmp) / spec
            folder.mkdir()
            prepare(potential, cell, folder, args.steps, args.warmup)
            rates = Rates()
            for _ in range(args.repeats):
                rates.add("bridge", bridge_md(python, folder, args.threads, cell.natoms))
                for what in ("ase", "model"):   # each in a fresh process, like the bridge
                    for route, rate in ase_and_model(python, folder, args.steps, args.warmup, args.threads,
                                                     cell.natoms, what).items():
                        rates.add(route, rate)
            b, a, m = rates.best("bridge"), rates.best("ase"), rates.best("model")
            print(f"| Li7P3S11 {spec} | {cell.natoms} | {m:.0f} | {b:.0f} | {a:.0f} | {b / a:.2f} | "
                  f"{rates.paired('bridge', 'ase')} | {b / m:.2f} | {a / m:.2f} | {1000 * cell.natoms / m:.2f} | "
                  f"{overhead_ms(b, m, cell.natoms):.2f} | {overhead_ms(a, m, cell.natoms):.2f} |", flush=True)
        print(f"\n(load average {os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    main()
