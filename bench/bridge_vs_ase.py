"""LAMMPS + calculator bridge against ASE molecular dynamics driving the same ASE calculator, and the model's own
cost: MD throughput (atom-steps/s) of each route, its fraction of the model-only limit, and each route's own cost
per step on top of the model.

  .venv/bin/python bench/bridge_vs_ase.py [--potential chgnet|ase-lj|FILE.toml] [--supercells 1x1x1 2x1x1]
                                          [--steps 30] [--warmup 3] [--threads 2] [--repeats 2] [--before REV]

Same potential file (a `kind = "calculator"` potential, default potentials/chgnet.toml; `ase-lj` is ASE's
LennardJones calculator, a model so cheap that the routes' own costs dominate), same cells (Li7P3S11 supercells),
same number of NVE velocity-Verlet steps at 1 fs from 600 K velocities, in one run, interleaved (bridge, [bridge
before,] ASE, model, bridge, ...; each in a fresh process, so the machine's noise hits all alike):
  - bridge: `python runner.py` on an in.lammps with the potential's lines; time = LAMMPS's "Loop time" of the
    measured `run` (after a `run WARMUP`; no start-up, no model loading);
  - bridge before (--before REV): the same with harness/calculator_runner.py as of git revision REV, to compare a
    runner change with the old runner in one run;
  - ASE: ase.md.verlet.VelocityVerlet with the calculator built exactly as runner.py builds it; time = the MD
    loop after WARMUP warm-up steps;
  - model: what the bridge asks of the calculator each step (runner.evaluate: energy, forces, stress) on one
    configuration, timed alone (positions moved by 1e-4 A each call so nothing is cached), the same number of
    calls; its atom-steps/s is the limit of any MD route that uses this calculator.
torch threads = --threads for all (OMP_NUM_THREADS, and torch.set_num_threads in the ASE process). Best of
--repeats each; the ratio columns are of the best rates, "bridge / ASE paired" is the median (min-max) of the
ratios of the repeats (each pair measured back to back). "overhead" = time per step minus the model-only time per
step (ms). "own cost" is measured inside each MD process and so does not depend on the machine's speed between
processes: the route's time per step minus the time spent in the calculator's `calculate` during those same steps
(median of the repeats, ms): what LAMMPS and the callback, or ASE's integrator and Atoms bookkeeping, add to the
model in MD (a calculator that keeps a neighbour list rebuilds it inside `calculate`, so that is model time).
"neighbour-list rebuilds" counts, over the timed steps (median of the repeats), how often ASE's neighbour lists
(ase.neighborlist) were rebuilt inside the calculator: 0 for a calculator that does not use them.
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

# Wraps the calculator's `calculate` (what ASE's get_* call when positions changed) with a clock, so each MD process
# can say how much of its loop was the model. The bridge runs it through RUNNER_TIMED.
MODEL_CLOCK = r'''
import time

REBUILDS = [0]


def count_rebuilds():
    # ASE's neighbour lists (ase.neighborlist, used by LennardJones and others) call build() when they rebuild
    from ase import neighborlist
    if getattr(neighborlist, "_bench_counts_rebuilds", False):
        return
    neighborlist._bench_counts_rebuilds = True
    for name in ("PrimitiveNeighborList", "NewPrimitiveNeighborList"):
        cls = getattr(neighborlist, name, None)
        if cls is None:
            continue
        inner = cls.build

        def build(self, *args, _inner=inner, **kwargs):
            REBUILDS[0] += 1
            return _inner(self, *args, **kwargs)
        cls.build = build


def clock_calculate(calc, durations, rebuilds):
    # per call of calculate: its duration (s) and how many neighbour-list rebuilds happened inside it
    count_rebuilds()
    inner = calc.calculate

    def calculate(*args, **kwargs):
        start, before = time.perf_counter(), REBUILDS[0]
        try:
            return inner(*args, **kwargs)
        finally:
            durations.append(time.perf_counter() - start)
            rebuilds.append(REBUILDS[0] - before)
    calc.calculate = calculate
    return calc
'''

RUNNER_TIMED = r'''
import json, sys
sys.path.insert(0, ".")
import runner
from model_clock import clock_calculate
durations, rebuilds = [], []
build = runner.build_calculator
runner.build_calculator = lambda config, folder: clock_calculate(build(config, folder), durations, rebuilds)
code = runner.main(sys.argv[2:])
steps = int(sys.argv[1])
print("MODEL_SECONDS " + json.dumps({"calls": len(durations), "last_steps_s": sum(durations[-steps:]),
                                     "last_steps_rebuilds": sum(rebuilds[-steps:])}))
sys.exit(code)
'''

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
from model_clock import clock_calculate
durations, rebuilds = [], []
want_stress = bool(config.get("stress", True))
result = {"torch_threads": torch_threads}
if "ase" in what:
    atoms = Atoms(numbers=cell["numbers"], positions=cell["positions"], cell=cell["cell"], pbc=True)
    atoms.calc = calc
    MaxwellBoltzmannDistribution(atoms, temperature_K=600.0, rng=np.random.default_rng(1))
    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    dyn.run(warmup)
    clock_calculate(calc, durations, rebuilds)
    start = time.perf_counter()
    dyn.run(steps)
    result["ase_s"] = time.perf_counter() - start
    result["ase_model_s"] = sum(durations)
    result["ase_rebuilds"] = sum(rebuilds)
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
MODEL_SECONDS = re.compile(r"^MODEL_SECONDS (.*)$", re.MULTILINE)


def bench_potential(name: str, folder: Path) -> Potential:
    """A potential by name or file; the bench's built-in ones (BUILTIN) are written into ``folder`` first."""
    if name in BUILTIN:
        path = folder / f"{name}.toml"
        path.write_text(BUILTIN[name])
        return load_potential(str(path))
    return load_potential(name)


def prepare(potential: Potential, cell: Structure, folder: Path, steps: int, warmup: int,
            before: str | None) -> None:
    """The bridge's in.lammps + runner files (and runner_before.py), the cell and script of the ASE and model-only
    measurements."""
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
    (folder / "model_clock.py").write_text(MODEL_CLOCK)
    (folder / "runner_timed.py").write_text(RUNNER_TIMED)
    if before:
        old = subprocess.run(["git", "show", f"{before}:harness/calculator_runner.py"], cwd=REPO, text=True,
                             capture_output=True)
        if old.returncode != 0:
            raise SystemExit(f"--before {before}: {old.stderr.strip()}")
        (folder / "runner_before.py").write_text(old.stdout)
        (folder / "runner_before_timed.py").write_text(RUNNER_TIMED.replace("import runner\n",
                                                                           "import runner_before as runner\n"))


def loop_rate(stdout: str, natoms: int) -> float | None:
    """atom-steps/s of the last `run` of a LAMMPS output (its own "Loop time"), None without two runs."""
    loops = LOOP.findall(stdout)
    if len(loops) < 2:
        return None
    return natoms * int(loops[-1][1]) / float(loops[-1][0])


def bridge_md(python: str, folder: Path, threads: int, natoms: int, steps: int,
              script: str = "runner_timed.py") -> tuple[float, float, int]:
    """atom-steps/s of the bridge's measured run, its own cost per step (ms, loop time minus model time) and the
    neighbour-list rebuilds inside the calculator during that run."""
    build = find_lammps()
    proc = subprocess.run([python, "-u", script, str(steps)], cwd=folder, text=True, capture_output=True,
                          env=child_environment(build.library_dirs, {"OMP_NUM_THREADS": str(threads)}))
    rate = loop_rate(proc.stdout, natoms)
    clock = MODEL_SECONDS.search(proc.stdout)
    if proc.returncode != 0 or rate is None or clock is None:
        raise SystemExit(f"bridge run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    clocked = json.loads(clock.group(1))
    return rate, 1000.0 * (natoms * steps / rate - clocked["last_steps_s"]) / steps, clocked["last_steps_rebuilds"]


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
        rates["ase_own_ms"] = 1000.0 * (times["ase_s"] - times["ase_model_s"]) / steps
        rates["ase_rebuilds"] = times["ase_rebuilds"]
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
    parser.add_argument("--before", metavar="REV", help="add harness/calculator_runner.py of git revision REV as a "
                        "route (bridge before)")
    args = parser.parse_args()
    crystal = read_cif(find_structure("Li7P3S11", REPO), name="Li7P3S11")
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as tmp:
        potential = bench_potential(args.potential, Path(tmp))
        if potential.calculator is None:
            raise SystemExit(f"{args.potential} is not a calculator potential")
        python = interpreter_for(potential.calculator.python, potential.source)
        print(f"# bench/bridge_vs_ase.py --potential {args.potential} --steps {args.steps} --warmup {args.warmup} "
              f"--threads {args.threads} --repeats {args.repeats}{f' --before {args.before}' if args.before else ''}"
              f"; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f} at start")
        bridges = ["bridge", "bridge-before"] if args.before else ["bridge"]
        title = {"bridge": "LAMMPS + bridge", "bridge-before": "bridge before"}
        columns = (["cell", "atoms", "model only (atom-steps/s)"] + [title[b] for b in bridges]
                   + ["ASE VelocityVerlet"] + [f"{title[b]} / ASE" for b in bridges] + ["bridge / ASE paired"]
                   + [f"{title[b]} / model" for b in bridges] + ["ASE / model", "model (ms/step)"]
                   + [f"{title[b]} overhead (ms/step)" for b in bridges] + ["ASE overhead (ms/step)"]
                   + [f"{title[b]} own cost (ms/step)" for b in bridges] + ["ASE own cost (ms/step)"]
                   + [f"{title[b]} neighbour-list rebuilds" for b in bridges] + ["ASE neighbour-list rebuilds"])
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
        for spec in args.supercells:
            cell = supercell(crystal, [int(n) for n in spec.split("x")])
            folder = Path(tmp) / spec
            folder.mkdir()
            prepare(potential, cell, folder, args.steps, args.warmup, args.before)
            rates = Rates()
            for _ in range(args.repeats):
                for route in bridges:
                    script = "runner_before_timed.py" if route == "bridge-before" else "runner_timed.py"
                    rate, own_ms, rebuilds = bridge_md(python, folder, args.threads, cell.natoms, args.steps,
                                                       script)
                    rates.add(route, rate)
                    rates.add(f"{route}_own_ms", own_ms)
                    rates.add(f"{route}_rebuilds", rebuilds)
                for what in ("ase", "model"):   # each in a fresh process, like the bridge
                    for route, rate in ase_and_model(python, folder, args.steps, args.warmup, args.threads,
                                                     cell.natoms, what).items():
                        rates.add(route, rate)
            a, m = rates.best("ase"), rates.best("model")
            best = {b: rates.best(b) for b in bridges}
            own = {r: statistics.median(rates.by_route[f"{r}_own_ms"]) for r in [*bridges, "ase"]}
            cells = ([f"Li7P3S11 {spec}", str(cell.natoms), f"{m:.0f}"] + [f"{best[b]:.0f}" for b in bridges]
                     + [f"{a:.0f}"] + [f"{best[b] / a:.2f}" for b in bridges] + [rates.paired("bridge", "ase")]
                     + [f"{best[b] / m:.2f}" for b in bridges] + [f"{a / m:.2f}", f"{1000 * cell.natoms / m:.2f}"]
                     + [f"{overhead_ms(best[b], m, cell.natoms):.2f}" for b in bridges]
                     + [f"{overhead_ms(a, m, cell.natoms):.2f}"] + [f"{own[r]:.2f}" for r in [*bridges, "ase"]]
                     + [f"{statistics.median(rates.by_route[f'{r}_rebuilds']):.0f}" for r in [*bridges, "ase"]])
            print("| " + " | ".join(cells) + " |", flush=True)
        print(f"\n(load average {os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    main()
